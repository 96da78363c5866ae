// Package provisioning is Switchboard's one model of what a switch should be
// configured with: a tree of tenants, the SIP domains they own, users (API
// logins and end users), SIP accounts, gateways (trunks) and DIDs. Every API
// dialect translates onto the Service in this package, and every switch
// adapter receives its changes through a ConfigSink.
//
// The package holds no I/O of its own: the Store it is given persists the
// model (see provisioning/sqlstore) and the sinks push it to switches.
package provisioning

import "time"

// Tenant is a node of the customer tree. A tenant with no parent is a root.
// Path is the materialised chain of ancestor IDs ("/1/7/12/") that makes
// "this tenant and all its descendants" one indexed prefix query.
type Tenant struct {
	ID        int64     `json:"id" db:"id"`
	ParentID  *int64    `json:"parent_id" db:"parent_id"`
	Name      string    `json:"name" db:"name"`
	Path      string    `json:"-" db:"path"`
	CreatedAt time.Time `json:"created_at" db:"created_at"`
	UpdatedAt time.Time `json:"updated_at" db:"updated_at"`
}

// Domain is a SIP domain (realm) owned by one tenant: the "DCP" of the dcp
// dialect. Name is unique across Switchboard because a switch routes by it.
type Domain struct {
	ID          int64     `json:"id" db:"id"`
	TenantID    int64     `json:"tenant_id" db:"tenant_id"`
	Name        string    `json:"name" db:"name"`
	Description string    `json:"description" db:"description"`
	CreatedAt   time.Time `json:"created_at" db:"created_at"`
	UpdatedAt   time.Time `json:"updated_at" db:"updated_at"`
}

// Role is what a user or an API token may do.
type Role string

// The roles. An admin sees every tenant; a tenant-admin sees its own tenant
// and the tenant's descendants; a user reads its tenant and the tenant's
// descendants and changes nothing.
const (
	RoleAdmin       Role = "admin"
	RoleTenantAdmin Role = "tenant-admin"
	RoleUser        Role = "user"
)

// User is an API login or an end user. Login is unique across Switchboard
// (it is the "accid" of the dcp dialect). The password is kept only as a
// bcrypt hash.
type User struct {
	ID           int64     `json:"id" db:"id"`
	TenantID     int64     `json:"tenant_id" db:"tenant_id"`
	Login        string    `json:"login" db:"login"`
	Email        string    `json:"email" db:"email"`
	FirstName    string    `json:"first_name" db:"first_name"`
	LastName     string    `json:"last_name" db:"last_name"`
	Role         Role      `json:"role" db:"role"`
	PasswordHash string    `json:"-" db:"password_hash"`
	CreatedAt    time.Time `json:"created_at" db:"created_at"`
	UpdatedAt    time.Time `json:"updated_at" db:"updated_at"`
}

// Account is a SIP account: a "phone number" of the dcp dialect, an
// "extension" or "device" elsewhere. Username is unique within its domain.
//
// Secret is stored retrievably because switches need it (FreeSWITCH's
// directory, Asterisk's auth objects) but it is tagged out of JSON so that it
// can never leak into list output or logs by accident; HA1 is the digest
// md5(username:domain:secret) for switches that accept a pre-hashed secret.
type Account struct {
	ID             int64  `json:"id" db:"id"`
	DomainID       int64  `json:"domain_id" db:"domain_id"`
	Domain         string `json:"domain" db:"domain"`       // the domain's name, joined on read
	TenantID       int64  `json:"tenant_id" db:"tenant_id"` // the domain's tenant, joined on read
	Username       string `json:"username" db:"username"`
	Secret         string `json:"-" db:"secret"`
	HA1            string `json:"-" db:"ha1"`
	CallerIDName   string `json:"caller_id_name" db:"caller_id_name"`
	CallerIDNumber string `json:"caller_id_number" db:"caller_id_number"`
	Description    string `json:"description" db:"description"`
	UserID         *int64 `json:"user_id" db:"user_id"`
	// UserLogin is the owner's login, joined on read so that listing a page
	// of accounts with their owners is one query. The owner always belongs
	// to the account's tenant or a descendant of it, so whoever sees the
	// account may see the login.
	UserLogin string    `json:"-" db:"user_login"`
	CreatedAt time.Time `json:"created_at" db:"created_at"`
	UpdatedAt time.Time `json:"updated_at" db:"updated_at"`
}

// AOR is the account's SIP address of record, username@domain.
func (a *Account) AOR() string { return a.Username + "@" + a.Domain }

// Transport is a SIP transport for a gateway.
type Transport string

// The transports a gateway may use.
const (
	TransportUDP Transport = "udp"
	TransportTCP Transport = "tcp"
	TransportTLS Transport = "tls"
)

// Gateway is a trunk to a carrier or another switch. A gateway with a nil
// TenantID is shared: every tenant may route through it, only admins may
// change it. Name is unique across Switchboard: it becomes the object id on
// the switch.
//
// An Observed gateway is one the operator defined on the switch itself
// (pjsip.conf, a sofia gateway file) under that name: Switchboard reports
// its status and classifies calls through it, but never pushes, changes or
// deletes it on a switch, so it has no credentials here and its host is
// optional (given, it is probed with OPTIONS). The zero value is managed:
// pushed to every switch.
type Gateway struct {
	ID          int64     `json:"id" db:"id"`
	TenantID    *int64    `json:"tenant_id" db:"tenant_id"`
	Name        string    `json:"name" db:"name"`
	Host        string    `json:"host" db:"host"`
	Port        int       `json:"port" db:"port"`
	Transport   Transport `json:"transport" db:"transport"`
	Username    string    `json:"username" db:"username"` // outbound registration; empty = no registration
	Secret      string    `json:"-" db:"secret"`
	Register    bool      `json:"register" db:"register"`
	QualifySecs int       `json:"qualify_seconds" db:"qualify_seconds"` // OPTIONS interval; 0 = never
	Description string    `json:"description" db:"description"`
	// Observed: see above. The native API shows it as "managed" (its
	// negation), so that a gateway read back says what Switchboard does
	// with it.
	Observed  bool      `json:"-" db:"observed"`
	CreatedAt time.Time `json:"created_at" db:"created_at"`
	UpdatedAt time.Time `json:"updated_at" db:"updated_at"`
}

// DID is an E.164 number owned by a tenant, routed to a Destination (nil
// while unrouted). AccountID is the account of a DID routed straight to
// one (Destination of kind account), kept for the dialects that know
// nothing else; the two are set together by the Service.
type DID struct {
	ID          int64        `json:"id" db:"id"`
	TenantID    int64        `json:"tenant_id" db:"tenant_id"`
	Number      string       `json:"number" db:"number"`
	AccountID   *int64       `json:"account_id" db:"account_id"`
	Destination *Destination `json:"destination" db:"-"`
	Description string       `json:"description" db:"description"`
	// Record records the answered calls that come in on the DID (the
	// seed's di_recording).
	Record    bool      `json:"record" db:"record"`
	CreatedAt time.Time `json:"created_at" db:"created_at"`
	UpdatedAt time.Time `json:"updated_at" db:"updated_at"`

	// The destination's columns, read and written by the Store only.
	DestKind   *string `json:"-" db:"dest_kind"`
	DestID     *int64  `json:"-" db:"dest_id"`
	DestNumber *string `json:"-" db:"dest_number"`
}

// LoadDestination sets Destination from the stored columns (a DID
// written before destinations existed has only AccountID).
func (d *DID) LoadDestination() {
	switch {
	case d.DestKind != nil && d.AccountID == nil:
		dest := Destination{Kind: DestKind(*d.DestKind)}
		if d.DestID != nil {
			dest.ID = *d.DestID
		}
		if d.DestNumber != nil {
			dest.Number = *d.DestNumber
		}
		d.Destination = &dest
	case d.AccountID != nil:
		d.Destination = &Destination{Kind: DestAccount, ID: *d.AccountID}
	default:
		d.Destination = nil
	}
}

// StoreDestination sets the stored columns from Destination: an account
// destination is AccountID, any other the dest_* columns (AccountID nil).
// A DID with AccountID and no Destination is routed to the account.
func (d *DID) StoreDestination() {
	d.DestKind, d.DestID, d.DestNumber = nil, nil, nil
	if d.Destination == nil {
		return
	}
	if d.Destination.Kind == DestAccount {
		id := d.Destination.ID
		d.AccountID = &id
		return
	}
	d.AccountID = nil
	k := string(d.Destination.Kind)
	d.DestKind = &k
	if d.Destination.ID != 0 {
		id := d.Destination.ID
		d.DestID = &id
	}
	if d.Destination.Number != "" {
		n := d.Destination.Number
		d.DestNumber = &n
	}
}

// Token is an API bearer token. Only the SHA-256 of the token is stored: a
// token is 256 random bits, so a slow password hash would add latency to
// every request without adding safety.
type Token struct {
	ID        int64      `json:"id" db:"id"`
	Name      string     `json:"name" db:"name"`
	Role      Role       `json:"role" db:"role"`
	TenantID  *int64     `json:"tenant_id" db:"tenant_id"` // required unless Role is admin
	Hash      string     `json:"-" db:"hash"`
	CreatedAt time.Time  `json:"created_at" db:"created_at"`
	RevokedAt *time.Time `json:"revoked_at" db:"revoked_at"`
}
