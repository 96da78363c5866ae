package native

import (
	"context"
	"slices"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// Whitelists (provisioning/whitelists.go): a tenant's own (user_id null)
// and its users', the destination prefixes their outbound calls may
// reach, enforced at call time by provisioning/authz.

type whitelistIn struct {
	TenantID int64                         `json:"tenant_id"`
	UserID   *int64                        `json:"user_id"`
	Name     string                        `json:"name"`
	Entries  []provisioning.WhitelistEntry `json:"entries"`
}

// load is like every resource's: a PATCH that sends entries replaces
// the list whole (decodeJSON zeroes a field the body gives), one that
// does not keeps them.
func (in *whitelistIn) load(w *provisioning.Whitelist) {
	*in = whitelistIn{TenantID: w.TenantID, UserID: clone(w.UserID), Name: w.Name, Entries: slices.Clone(w.Entries)}
}

func (in *whitelistIn) store(_ *provisioning.Service, w *provisioning.Whitelist) error {
	w.TenantID, w.UserID, w.Name, w.Entries = in.TenantID, clone(in.UserID), in.Name, in.Entries
	return nil
}

var pWhitelistUserID = param{name: "user_id", typ: "id", doc: "only the whitelists of this user"}

func (s *server) whitelistRoutes() []*route {
	svc := s.svc
	return routesOf[provisioning.Whitelist, whitelistIn](s, resource[provisioning.Whitelist, whitelistIn]{
		plural: "whitelists", schema: "Whitelist", required: []string{"tenant_id", "name"},
		filters: []param{pTenantID, pWhitelistUserID},
		id:      func(w *provisioning.Whitelist) int64 { return w.ID },
		create: func(ctx context.Context, sc provisioning.Scope, in *whitelistIn) (*provisioning.Whitelist, error) {
			w := &provisioning.Whitelist{}
			if err := in.store(svc, w); err != nil {
				return nil, err
			}
			return w, svc.CreateWhitelist(ctx, sc, w)
		},
		get: svc.Whitelist, update: svc.UpdateWhitelist, del: svc.DeleteWhitelist,
		list: func(ctx context.Context, sc provisioning.Scope, c *call, p provisioning.Page) ([]provisioning.Whitelist, error) {
			f := provisioning.WhitelistFilter{Page: p}
			var err error
			if f.TenantID, err = c.id("tenant_id"); err != nil {
				return nil, err
			}
			if f.UserID, err = c.id("user_id"); err != nil {
				return nil, err
			}
			return svc.Whitelists(ctx, sc, f)
		},
	})
}

func init() {
	tagDocs["whitelists"] = "Whitelists of a tenant (user_id null) or of one of its users: the destination prefixes their outbound calls may reach, checked while calls are placed. A call must match one whitelist of its user (when the user has any), of its tenant and of every tenant above it (each that has any); without any whitelist every destination the tariff rates is allowed. A tenant-admin sets its users' and sub-tenants' whitelists, not its own tenant's. A refused call is counted in switchboard_authz_refused_total{reason=\"not_whitelisted\"}."
	for _, sch := range []string{"Whitelist", "WhitelistCreate", "WhitelistPatch"} {
		for k, v := range map[string]string{
			"user_id": "the user whose accounts' calls the whitelist applies to; null: the tenant's own (all its calls and its sub-tenants'). Cannot change",
			"name":    "unique per tenant (or user), 1 to 100 characters",
			"entries": "the allowed destination prefixes, at most 10000, each once; a PATCH that sends entries replaces them all, one that leaves them out keeps them. Empty: the whitelist allows nothing",
		} {
			fieldDocs[sch+"."+k] = v
		}
	}
	for k, v := range map[string]string{
		"prefix":      "1 to 32 digits of the E.164 number without the +, as rate prefixes (\"44\", \"447\"); a destination matches when it starts with them",
		"description": "free text, at most 200 characters",
	} {
		fieldDocs["WhitelistEntry."+k] = v
	}
}
