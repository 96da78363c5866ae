package provisioning

import "context"

// The Service's routing methods, one set per kind; routing_service.go has
// what they share (scope, references, loops, notification).

// CreateExtension validates and stores a extension of the caller's scope.
func (s *Service) CreateExtension(ctx context.Context, sc Scope, o *Extension) error {
	return createRouting(ctx, s, sc, o)
}

// Extension returns extension id if the scope sees it.
func (s *Service) Extension(ctx context.Context, sc Scope, id int64) (*Extension, error) {
	return getRouting[Extension](ctx, s, sc, id)
}

// UpdateExtension loads extension id, lets fn change it and saves it.
func (s *Service) UpdateExtension(ctx context.Context, sc Scope, id int64, fn func(*Extension) error) (*Extension, error) {
	return updateRouting[Extension](ctx, s, sc, id, fn)
}

// DeleteExtension deletes extension id unless something still sends calls to it.
func (s *Service) DeleteExtension(ctx context.Context, sc Scope, id int64) error {
	return deleteRouting[Extension](ctx, s, sc, id)
}

// Extensions lists the extensions in scope (of f.TenantID when set).
func (s *Service) Extensions(ctx context.Context, sc Scope, f RoutingFilter) ([]*Extension, error) {
	return listRouting[Extension](ctx, s, sc, f)
}

// CreateHuntGroup validates and stores a hunt group of the caller's scope.
func (s *Service) CreateHuntGroup(ctx context.Context, sc Scope, o *HuntGroup) error {
	return createRouting(ctx, s, sc, o)
}

// HuntGroup returns hunt group id if the scope sees it.
func (s *Service) HuntGroup(ctx context.Context, sc Scope, id int64) (*HuntGroup, error) {
	return getRouting[HuntGroup](ctx, s, sc, id)
}

// UpdateHuntGroup loads hunt group id, lets fn change it and saves it.
func (s *Service) UpdateHuntGroup(ctx context.Context, sc Scope, id int64, fn func(*HuntGroup) error) (*HuntGroup, error) {
	return updateRouting[HuntGroup](ctx, s, sc, id, fn)
}

// DeleteHuntGroup deletes hunt group id unless something still sends calls to it.
func (s *Service) DeleteHuntGroup(ctx context.Context, sc Scope, id int64) error {
	return deleteRouting[HuntGroup](ctx, s, sc, id)
}

// HuntGroups lists the hunt groups in scope (of f.TenantID when set).
func (s *Service) HuntGroups(ctx context.Context, sc Scope, f RoutingFilter) ([]*HuntGroup, error) {
	return listRouting[HuntGroup](ctx, s, sc, f)
}

// CreateCondition validates and stores a condition of the caller's scope.
func (s *Service) CreateCondition(ctx context.Context, sc Scope, o *Condition) error {
	return createRouting(ctx, s, sc, o)
}

// Condition returns condition id if the scope sees it.
func (s *Service) Condition(ctx context.Context, sc Scope, id int64) (*Condition, error) {
	return getRouting[Condition](ctx, s, sc, id)
}

// UpdateCondition loads condition id, lets fn change it and saves it.
func (s *Service) UpdateCondition(ctx context.Context, sc Scope, id int64, fn func(*Condition) error) (*Condition, error) {
	return updateRouting[Condition](ctx, s, sc, id, fn)
}

// DeleteCondition deletes condition id unless something still sends calls to it.
func (s *Service) DeleteCondition(ctx context.Context, sc Scope, id int64) error {
	return deleteRouting[Condition](ctx, s, sc, id)
}

// Conditions lists the conditions in scope (of f.TenantID when set).
func (s *Service) Conditions(ctx context.Context, sc Scope, f RoutingFilter) ([]*Condition, error) {
	return listRouting[Condition](ctx, s, sc, f)
}

// CreateCustomDestination validates and stores a custom destination of the caller's scope.
func (s *Service) CreateCustomDestination(ctx context.Context, sc Scope, o *CustomDestination) error {
	return createRouting(ctx, s, sc, o)
}

// CustomDestination returns custom destination id if the scope sees it.
func (s *Service) CustomDestination(ctx context.Context, sc Scope, id int64) (*CustomDestination, error) {
	return getRouting[CustomDestination](ctx, s, sc, id)
}

// UpdateCustomDestination loads custom destination id, lets fn change it and saves it.
func (s *Service) UpdateCustomDestination(ctx context.Context, sc Scope, id int64, fn func(*CustomDestination) error) (*CustomDestination, error) {
	return updateRouting[CustomDestination](ctx, s, sc, id, fn)
}

// DeleteCustomDestination deletes custom destination id unless something still sends calls to it.
func (s *Service) DeleteCustomDestination(ctx context.Context, sc Scope, id int64) error {
	return deleteRouting[CustomDestination](ctx, s, sc, id)
}

// CustomDestinations lists the custom destinations in scope (of f.TenantID when set).
func (s *Service) CustomDestinations(ctx context.Context, sc Scope, f RoutingFilter) ([]*CustomDestination, error) {
	return listRouting[CustomDestination](ctx, s, sc, f)
}

// CreateForward validates and stores a forward of the caller's scope.
func (s *Service) CreateForward(ctx context.Context, sc Scope, o *Forward) error {
	return createRouting(ctx, s, sc, o)
}

// Forward returns forward id if the scope sees it.
func (s *Service) Forward(ctx context.Context, sc Scope, id int64) (*Forward, error) {
	return getRouting[Forward](ctx, s, sc, id)
}

// UpdateForward loads forward id, lets fn change it and saves it.
func (s *Service) UpdateForward(ctx context.Context, sc Scope, id int64, fn func(*Forward) error) (*Forward, error) {
	return updateRouting[Forward](ctx, s, sc, id, fn)
}

// DeleteForward deletes forward id unless something still sends calls to it.
func (s *Service) DeleteForward(ctx context.Context, sc Scope, id int64) error {
	return deleteRouting[Forward](ctx, s, sc, id)
}

// Forwards lists the forwards in scope (of f.TenantID when set).
func (s *Service) Forwards(ctx context.Context, sc Scope, f RoutingFilter) ([]*Forward, error) {
	return listRouting[Forward](ctx, s, sc, f)
}

// CreateOutboundRoute validates and stores a outbound route of the caller's scope.
func (s *Service) CreateOutboundRoute(ctx context.Context, sc Scope, o *OutboundRoute) error {
	return createRouting(ctx, s, sc, o)
}

// OutboundRoute returns outbound route id if the scope sees it.
func (s *Service) OutboundRoute(ctx context.Context, sc Scope, id int64) (*OutboundRoute, error) {
	return getRouting[OutboundRoute](ctx, s, sc, id)
}

// UpdateOutboundRoute loads outbound route id, lets fn change it and saves it.
func (s *Service) UpdateOutboundRoute(ctx context.Context, sc Scope, id int64, fn func(*OutboundRoute) error) (*OutboundRoute, error) {
	return updateRouting[OutboundRoute](ctx, s, sc, id, fn)
}

// DeleteOutboundRoute deletes outbound route id unless something still sends calls to it.
func (s *Service) DeleteOutboundRoute(ctx context.Context, sc Scope, id int64) error {
	return deleteRouting[OutboundRoute](ctx, s, sc, id)
}

// OutboundRoutes lists the outbound routes in scope (of f.TenantID when set).
func (s *Service) OutboundRoutes(ctx context.Context, sc Scope, f RoutingFilter) ([]*OutboundRoute, error) {
	return listRouting[OutboundRoute](ctx, s, sc, f)
}

// CreateIVRMenu validates and stores an IVR menu of the caller's scope.
func (s *Service) CreateIVRMenu(ctx context.Context, sc Scope, o *IVRMenu) error {
	return createRouting(ctx, s, sc, o)
}

// IVRMenu returns IVR menu id if the scope sees it.
func (s *Service) IVRMenu(ctx context.Context, sc Scope, id int64) (*IVRMenu, error) {
	return getRouting[IVRMenu](ctx, s, sc, id)
}

// UpdateIVRMenu loads IVR menu id, lets fn change it and saves it.
func (s *Service) UpdateIVRMenu(ctx context.Context, sc Scope, id int64, fn func(*IVRMenu) error) (*IVRMenu, error) {
	return updateRouting[IVRMenu](ctx, s, sc, id, fn)
}

// DeleteIVRMenu deletes IVR menu id unless something still sends calls to it.
func (s *Service) DeleteIVRMenu(ctx context.Context, sc Scope, id int64) error {
	return deleteRouting[IVRMenu](ctx, s, sc, id)
}

// IVRMenus lists the IVR menus in scope (of f.TenantID when set).
func (s *Service) IVRMenus(ctx context.Context, sc Scope, f RoutingFilter) ([]*IVRMenu, error) {
	return listRouting[IVRMenu](ctx, s, sc, f)
}

// CreateVoicemailBox validates and stores a voicemail box of the caller's scope.
func (s *Service) CreateVoicemailBox(ctx context.Context, sc Scope, o *VoicemailBox) error {
	return createRouting(ctx, s, sc, o)
}

// VoicemailBox returns voicemail box id if the scope sees it.
func (s *Service) VoicemailBox(ctx context.Context, sc Scope, id int64) (*VoicemailBox, error) {
	return getRouting[VoicemailBox](ctx, s, sc, id)
}

// UpdateVoicemailBox loads voicemail box id, lets fn change it and saves it.
func (s *Service) UpdateVoicemailBox(ctx context.Context, sc Scope, id int64, fn func(*VoicemailBox) error) (*VoicemailBox, error) {
	return updateRouting[VoicemailBox](ctx, s, sc, id, fn)
}

// DeleteVoicemailBox deletes voicemail box id unless something still sends calls to it.
func (s *Service) DeleteVoicemailBox(ctx context.Context, sc Scope, id int64) error {
	return deleteRouting[VoicemailBox](ctx, s, sc, id)
}

// VoicemailBoxes lists the voicemail boxes in scope (of f.TenantID when set).
func (s *Service) VoicemailBoxes(ctx context.Context, sc Scope, f RoutingFilter) ([]*VoicemailBox, error) {
	return listRouting[VoicemailBox](ctx, s, sc, f)
}

// CreateFaxBox validates and stores a fax box of the caller's scope.
func (s *Service) CreateFaxBox(ctx context.Context, sc Scope, o *FaxBox) error {
	return createRouting(ctx, s, sc, o)
}

// FaxBox returns fax box id if the scope sees it.
func (s *Service) FaxBox(ctx context.Context, sc Scope, id int64) (*FaxBox, error) {
	return getRouting[FaxBox](ctx, s, sc, id)
}

// UpdateFaxBox loads fax box id, lets fn change it and saves it.
func (s *Service) UpdateFaxBox(ctx context.Context, sc Scope, id int64, fn func(*FaxBox) error) (*FaxBox, error) {
	return updateRouting[FaxBox](ctx, s, sc, id, fn)
}

// DeleteFaxBox deletes fax box id unless something still sends calls to it.
func (s *Service) DeleteFaxBox(ctx context.Context, sc Scope, id int64) error {
	return deleteRouting[FaxBox](ctx, s, sc, id)
}

// FaxBoxes lists the fax boxes in scope (of f.TenantID when set).
func (s *Service) FaxBoxes(ctx context.Context, sc Scope, f RoutingFilter) ([]*FaxBox, error) {
	return listRouting[FaxBox](ctx, s, sc, f)
}

// CreateRecordingPolicy validates and stores the recording policy of a
// tenant of the caller's scope (one per tenant).
func (s *Service) CreateRecordingPolicy(ctx context.Context, sc Scope, o *RecordingPolicy) error {
	return createRouting(ctx, s, sc, o)
}

// RecordingPolicy returns recording policy id if the scope sees it.
func (s *Service) RecordingPolicy(ctx context.Context, sc Scope, id int64) (*RecordingPolicy, error) {
	return getRouting[RecordingPolicy](ctx, s, sc, id)
}

// UpdateRecordingPolicy loads recording policy id, lets fn change it and
// saves it.
func (s *Service) UpdateRecordingPolicy(ctx context.Context, sc Scope, id int64, fn func(*RecordingPolicy) error) (*RecordingPolicy, error) {
	return updateRouting[RecordingPolicy](ctx, s, sc, id, fn)
}

// DeleteRecordingPolicy deletes recording policy id; recordings already
// made keep the expiry they were given.
func (s *Service) DeleteRecordingPolicy(ctx context.Context, sc Scope, id int64) error {
	return deleteRouting[RecordingPolicy](ctx, s, sc, id)
}

// RecordingPolicies lists the recording policies in scope.
func (s *Service) RecordingPolicies(ctx context.Context, sc Scope, f RoutingFilter) ([]*RecordingPolicy, error) {
	return listRouting[RecordingPolicy](ctx, s, sc, f)
}
