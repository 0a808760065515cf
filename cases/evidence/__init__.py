"""Evidence builders (issue 14): the engagement pattern around an account, near-duplicate
content, an account's genuineness profile. They describe; a reviewer decides."""
