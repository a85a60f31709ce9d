-- A local actor's RSA private key (PKCS#8 PEM) lives in its account row, so that every machine
-- sharing the database can sign for an account created on any one of them (issue 15). NULL: a
-- key from before this migration, still only in its file under storage.keys_dir; it is copied
-- here on first use, and by `fediverse-ai init`.
ALTER TABLE accounts ADD COLUMN private_key_pem TEXT;
