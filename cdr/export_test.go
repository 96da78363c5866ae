package cdr

// QuerySQL exposes the statement Query runs, for EXPLAIN in tests.
func (s *Store) QuerySQL(f Filter) (string, []any) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	return s.buildQuery(f, min(limit, MaxLimit)+1)
}
