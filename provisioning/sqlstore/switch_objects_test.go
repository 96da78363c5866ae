package sqlstore_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

func TestSwitchObjects(t *testing.T) {
	ctx := context.Background()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		if err := sqlstore.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		s := sqlstore.New(db)
		ep := sqlstore.SwitchObject{Kind: "endpoint", ID: "2001"}
		auth := sqlstore.SwitchObject{Kind: "auth", ID: "2001"}
		for _, o := range []sqlstore.SwitchObject{ep, auth, ep} { // twice is harmless
			if err := s.OwnSwitchObject(ctx, "ast1", o); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.OwnSwitchObject(ctx, "ast2", ep); err != nil {
			t.Fatal(err)
		}
		got, err := s.SwitchObjects(ctx, "ast1")
		if err != nil || !reflect.DeepEqual(got, []sqlstore.SwitchObject{auth, ep}) {
			t.Fatalf("ast1 objects = %v, %v", got, err)
		}
		if err := s.DisownSwitchObject(ctx, "ast1", ep); err != nil {
			t.Fatal(err)
		}
		if err := s.DisownSwitchObject(ctx, "ast1", ep); err != nil { // unknown: harmless
			t.Fatal(err)
		}
		got, _ = s.SwitchObjects(ctx, "ast1")
		other, _ := s.SwitchObjects(ctx, "ast2")
		if !reflect.DeepEqual(got, []sqlstore.SwitchObject{auth}) || len(other) != 1 {
			t.Errorf("after disown: ast1 %v, ast2 %v", got, other)
		}
	})
}
