package engine_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"evserver/engine"
)

// writeTestCert writes a self-signed certificate for 127.0.0.1 and its key.
func writeTestCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "evserver test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	kb, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// With -tls-cert and -tls-key the server speaks wss; a plain ws client on
// that port fails cleanly and the server carries on.
func TestServeTLS(t *testing.T) {
	certFile, keyFile, pool := writeTestCert(t)
	addr := freeAddr(t)
	srv, err := engine.New(engine.Config{Addr: addr, HandlersDir: filepath.Join("..", "handlers"), TLSCertFile: certFile, TLSKeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe() }() // ends at Shutdown below
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-served
	}()
	dialer := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}, HandshakeTimeout: 3 * time.Second}
	var c *websocket.Conn
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, _, err = dialer.Dial("wss://"+addr+"/echo", nil)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("wss dial: %v", err)
	}
	defer c.Close()
	if got := ask(t, c, "over TLS"); got != "over TLS" {
		t.Fatalf("echo %q", got)
	}
	// A plain ws client gets an error, not a hang or a crash.
	plain := websocket.Dialer{HandshakeTimeout: 3 * time.Second}
	if _, _, err := plain.Dial("ws://"+addr+"/echo", nil); err == nil {
		t.Fatal("a plain ws handshake succeeded on the TLS port")
	}
	if got := ask(t, c, "still here"); got != "still here" {
		t.Fatalf("after the plain client: %q", got)
	}
	// TLS 1.1 is refused.
	old := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}, HandshakeTimeout: 3 * time.Second}
	if _, _, err := old.Dial("wss://"+addr+"/echo", nil); err == nil {
		t.Fatal("a TLS 1.1 client was accepted")
	}
}
