package freeswitch

import (
	"context"
	"fmt"

	"github.com/switchboard-voip/switchboard/internal/genfile"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// reloadXML is a genfile Reload that sends reloadxml through c (the
// adapter), so that FreeSWITCH reads a file written in its static XML;
// nil when c is nil (tests).
func reloadXML(c Commander) func(ctx context.Context) error {
	if c == nil {
		return nil
	}
	return func(ctx context.Context) error {
		ans, err := c.API(ctx, "reloadxml")
		if err != nil {
			return fmt.Errorf("freeswitch: reloadxml: %w", err)
		}
		return reloadAnswerErr(ans)
	}
}

// keptXML is a generated static XML file that any provisioning change
// may change (a provisioning sink): each change asks for a render, and a
// render that changes nothing is not written nor reloaded.
type keptXML struct {
	keeper *genfile.Keeper
}

// Apply asks for a render.
func (f *keptXML) Apply(context.Context, provisioning.Change) error {
	f.keeper.Changed()
	return nil
}

// Run keeps the file current until ctx ends.
func (f *keptXML) Run(ctx context.Context) error { return f.keeper.Run(ctx) }

// Sync renders, writes and reloads once, now.
func (f *keptXML) Sync(ctx context.Context) error { return f.keeper.Sync(ctx) }

// Path is the file kept.
func (f *keptXML) Path() string { return f.keeper.Path() }
