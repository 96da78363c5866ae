-- Automatic number allocation (NumberStore) reads the highest number of
-- each width in a domain as one probe of this index, backwards from the
-- top of the width's range: numbers of one width sort as text as they do
-- as numbers, and keying by length keeps longer usernames (names, 20-digit
-- numbers) out of the range instead of scanning past them.
CREATE INDEX accounts_domain_id_length_username ON accounts (domain_id, length(username), username);
