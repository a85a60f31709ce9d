"""Raw SQL in small repository modules; each function takes the Database or a write connection."""
