package cdr

// QuerySQL exposes the statement Query runs for f, for EXPLAIN in tests.
func (s *Store) QuerySQL(f Filter) (string, []any) {
	return s.buildQuery(f, pageSize(f.Limit)+1)
}
