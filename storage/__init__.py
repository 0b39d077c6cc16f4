"""Models, queries and figures. Everything that touches the database lives here."""
