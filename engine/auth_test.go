package engine_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"

	"evserver/engine"
	"evserver/engine/enginetest"
)

// The class echoes who it was told the client is: accept sees req.auth.
const authLua = `
local A = { authenticate = "jwt", require_claims = { role = "thin-client" } }
function A.accept(req) return 101, { id = req.auth.sub .. "/" .. req.auth.role } end
function A:on_open() self.conn:send(self.conn.id) end
return A`

const basicLua = `
local B = { authenticate = "basic" }
function B.accept(req) return 101, { id = "basic:" .. req.auth.user } end
function B:on_open() self.conn:send(self.conn.id) end
return B`

type authCase struct {
	name      string
	header    string
	status    int    // 101 or the refusal
	challenge string // WWW-Authenticate prefix expected on 401
	id        string // on 101: the id the class saw
}

func runAuthCases(t *testing.T, url string, cases []authCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.header != "" {
				h.Set("Authorization", tc.header)
			}
			c, resp, err := websocket.DefaultDialer.Dial(url, h)
			if tc.status == 101 {
				if err != nil {
					t.Fatalf("dial: %v (%v)", err, resp)
				}
				defer c.Close()
				if got := readMsg(t, c); got != tc.id {
					t.Fatalf("id %q, want %q", got, tc.id)
				}
				return
			}
			if resp == nil || resp.StatusCode != tc.status {
				t.Fatalf("want %d, got %v (%v)", tc.status, resp, err)
			}
			if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, tc.challenge) {
				t.Fatalf("WWW-Authenticate %q, want prefix %q", got, tc.challenge)
			}
		})
	}
}

func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestJWTAuthentication(t *testing.T) {
	secret := []byte("s3cret-for-tests")
	dir := enginetest.Handlers(t, map[string]string{"api.lua": authLua})
	secretFile := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secretFile, append(secret, '\n'), 0o600)
	srv := enginetest.Run(t, engine.Config{HandlersDir: dir, JWTSecretFile: secretFile})
	exp := time.Now().Add(time.Hour).Unix()
	good := sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "u1", "role": "thin-client", "exp": exp})
	runAuthCases(t, srv.URL+"/api", []authCase{
		{"valid token", "Bearer " + good, 101, "", "u1/thin-client"},
		{"no header", "", 401, "Bearer", ""},
		{"not a bearer", "Basic eDp5", 401, "Bearer", ""},
		{"bad signature", "Bearer " + sign(t, jwt.SigningMethodHS256, []byte("other"), jwt.MapClaims{"sub": "u1", "role": "thin-client"}), 401, `Bearer error="invalid_token"`, ""},
		{"expired", "Bearer " + sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "u1", "role": "thin-client", "exp": time.Now().Add(-time.Minute).Unix()}), 401, `Bearer error="invalid_token"`, ""},
		{"not yet valid", "Bearer " + sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "u1", "role": "thin-client", "nbf": time.Now().Add(time.Hour).Unix()}), 401, `Bearer error="invalid_token"`, ""},
		{"wrong role", "Bearer " + sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "u1", "role": "admin"}), 403, "", ""},
		{"alg none", "Bearer " + sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"sub": "u1", "role": "thin-client"}), 401, "Bearer", ""},
	})
}

func TestJWTPublicKey(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pubFile := filepath.Join(t.TempDir(), "pub.pem")
	os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600)
	dir := enginetest.Handlers(t, map[string]string{"api.lua": authLua})
	srv := enginetest.Run(t, engine.Config{HandlersDir: dir, JWTPublicKeyFile: pubFile})
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	runAuthCases(t, srv.URL+"/api", []authCase{
		{"ES256 token", "Bearer " + sign(t, jwt.SigningMethodES256, key, jwt.MapClaims{"sub": "dev7", "role": "thin-client"}), 101, "", "dev7/thin-client"},
		{"other key", "Bearer " + sign(t, jwt.SigningMethodES256, other, jwt.MapClaims{"sub": "dev7", "role": "thin-client"}), 401, "Bearer", ""},
		// An HS256 token must not pass when only a public key is configured.
		{"HS256 with the public key as secret", "Bearer " + sign(t, jwt.SigningMethodHS256, der, jwt.MapClaims{"sub": "x", "role": "thin-client"}), 401, "Bearer", ""},
	})
}

func TestBasicAuthentication(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("opensesame"), bcrypt.MinCost)
	file := filepath.Join(t.TempDir(), "htpasswd")
	os.WriteFile(file, []byte("# users\nali:"+string(hash)+"\n"), 0o600)
	dir := enginetest.Handlers(t, map[string]string{"panel.lua": basicLua})
	srv := enginetest.Run(t, engine.Config{HandlersDir: dir, HtpasswdFile: file})
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	runAuthCases(t, srv.URL+"/panel", []authCase{
		{"right password", basic("ali", "opensesame"), 101, "", "basic:ali"},
		{"wrong password", basic("ali", "nope"), 401, "Basic", ""},
		{"unknown user", basic("bob", "opensesame"), 401, "Basic", ""},
		{"no header", "", 401, "Basic", ""},
	})
}

// A class asking for an authentication the server has no key for answers
// 500 (a deployment error), never lets the client in.
func TestAuthenticationWithoutKeys(t *testing.T) {
	dir := enginetest.Handlers(t, map[string]string{"api.lua": authLua})
	srv := enginetest.Run(t, engine.Config{HandlersDir: dir})
	_, resp, err := websocket.DefaultDialer.Dial(srv.URL+"/api", http.Header{"Authorization": {"Bearer x.y.z"}})
	if err == nil || resp == nil || resp.StatusCode != 500 {
		t.Fatalf("want 500, got %v %v", resp, err)
	}
}
