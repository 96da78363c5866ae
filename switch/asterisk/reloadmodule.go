package asterisk

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// ReloadModule has Asterisk reload one module through ARI (PUT
// /asterisk/modules/{name}, answered 204); pbx_config re-reads
// extensions.conf and what it includes. An unknown or unloaded module is
// answered 404 ("Module not found in running modules", seen on 23.4.1).
func (c *ConfigClient) ReloadModule(ctx context.Context, name string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.base+"/asterisk/modules/"+url.PathEscape(name), nil)
	if err != nil {
		return fmt.Errorf("asterisk: reloading %s: %w", name, err)
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.hc.CloseIdleConnections()
		return fmt.Errorf("asterisk: reloading %s: %w", name, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("asterisk: reloading %s: %s %s", name, resp.Status, body)
	}
	return nil
}
