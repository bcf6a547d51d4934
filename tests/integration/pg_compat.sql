-- UKEY_TEST_STORE=pg: SQLite's json_extract and group_concat for the
-- integration tests' own queries (lib.sh's db), in a schema of their own
-- that only the tests' psql searches: the daemon never sees these.
CREATE SCHEMA ukey_test_compat;

-- json_extract(json, '$.a.b'): the value at the path as text ('$' alone:
-- the whole value; a JSON string without its quotes), NULL when absent
CREATE FUNCTION ukey_test_compat.json_extract(doc text, path text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN path = '$' THEN CAST(doc AS jsonb) #>> '{}'
		ELSE CAST(doc AS jsonb) #>> string_to_array(substr(path, 3), '.') END
$$;

-- group_concat(x, sep): the non-NULL values joined in input order
CREATE FUNCTION ukey_test_compat.group_concat_step(acc text, v anyelement, sep text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN v IS NULL THEN acc WHEN acc IS NULL THEN CAST(v AS text)
		ELSE acc || sep || CAST(v AS text) END
$$;
CREATE AGGREGATE ukey_test_compat.group_concat(anyelement, text) (
	SFUNC = ukey_test_compat.group_concat_step, STYPE = text);
