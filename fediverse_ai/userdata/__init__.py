"""People's data in their hands: the AI switch, archives (export, import) and account deletion."""
