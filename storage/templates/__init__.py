"""Built-in campaign templates (YAML files packaged with cadrebot)."""
