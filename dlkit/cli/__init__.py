"""The `dlkit` command line. Modules here import nothing heavy at module level."""
