"""The offline demo: a fictional province, its people and the built-in campaign."""
