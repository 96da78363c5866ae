package sip

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	siplib "github.com/emiago/sipgo/sip"
)

// testCert is a self-signed certificate for 127.0.0.1, made for the test.
func testCert(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sip-test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// startTLSUAS runs a sipgo server on a loopback TLS listener answering
// OPTIONS with 200. sipp can only be the far end over UDP and TCP here:
// the Debian build has no TLS transport (no "-t l1").
func startTLSUAS(t testing.TB, cert tls.Certificate) string {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("test-uas"),
		// The handshake the untrusting prober aborts is expected.
		sipgo.WithUserAgentTransportLayerOptions(siplib.WithTransportLayerLogger(discardLogger)),
		sipgo.WithUserAgentTransactionLayerOptions(siplib.WithTransactionLayerLogger(discardLogger)),
	)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(discardLogger))
	if err != nil {
		t.Fatal(err)
	}
	srv.OnOptions(func(req *siplib.Request, tx siplib.ServerTransaction) {
		_ = tx.Respond(siplib.NewResponseFromRequest(req, 200, "OK", nil))
	})
	ln, err := tls.Listen("tcp4", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.ServeTLS(ln) }()
	t.Cleanup(func() {
		ln.Close()
		ua.Close()
	})
	return ln.Addr().String()
}

func TestOptionsTLS(t *testing.T) {
	t.Parallel()
	cert, roots := testCert(t)
	addr := startTLSUAS(t, cert)
	cfg := testConfig()
	cfg.Timeout = time.Second // room for the handshake under -race
	cfg.Interval = 200 * time.Millisecond
	cfg.TLSConfig = &tls.Config{RootCAs: roots}
	p := startProber(t, cfg,
		Target{Kind: KindGateway, Name: "sips", URI: "sips:" + addr},
		Target{Kind: KindGateway, Name: "param", URI: "sip:" + addr + ";transport=tls"},
		Target{Kind: KindGateway, Name: "field", URI: "sip:" + addr, Transport: TLS},
	)
	for _, name := range []string{"sips", "param", "field"} {
		r := waitResult(t, p, KindGateway, name, 3*time.Second, "answered", func(r Result) bool { return r.Code != 0 })
		if r.Status != StatusReachable || r.Code != 200 {
			t.Errorf("%s: %s %d %q, want reachable 200", name, r.Status, r.Code, r.Reason)
		}
	}

	// A prober that does not trust the certificate gets no answer: a TLS
	// handshake failure is a miss, with the reason saying why.
	cfg.TLSConfig = &tls.Config{RootCAs: x509.NewCertPool()}
	cfg.Misses = 1
	p = startProber(t, cfg, Target{Kind: KindGateway, Name: "untrusted", URI: "sips:" + addr})
	r := waitResult(t, p, KindGateway, "untrusted", 3*time.Second, "unreachable", func(r Result) bool { return r.Status == StatusUnreachable })
	if !strings.HasPrefix(r.Reason, "TLS handshake: ") || !strings.Contains(r.Reason, "x509") {
		t.Errorf("untrusted: reason %q, want a TLS handshake x509 error", r.Reason)
	}
}
