package sqlstore

import "github.com/switchboard-voip/switchboard/provisioning"

// HighestNumbersQuery exposes the allocation's index probe to the
// query-plan test.
func HighestNumbersQuery(s *Store, domainID int64, r provisioning.NumberRange) (string, []any) {
	return s.highestNumbersQuery(domainID, r)
}
