package engine

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"evserver/ws"
)

// authenticator verifies the credentials of classes with an authenticate
// option: "jwt" (Authorization: Bearer, HS256 with a shared secret or
// RS256/ES256 with a public key; exp and nbf checked) or "basic" (an
// htpasswd file of bcrypt hashes).
type authenticator struct {
	secret   []byte // HS256
	pubKey   any    // RS256 / ES256
	htpasswd map[string][]byte
}

var (
	errNoCredentials = &ws.HandshakeError{Status: 401, Reason: "authentication required"}
	errBadToken      = &ws.HandshakeError{Status: 401, Reason: "invalid or expired token"}
	errBadPassword   = &ws.HandshakeError{Status: 401, Reason: "invalid user or password"}
	errClaims        = &ws.HandshakeError{Status: 403, Reason: "the token does not grant access to this path"}
	errAuthSetup     = &ws.HandshakeError{Status: 500, Reason: "authentication is not configured"}
)

func loadAuthenticator(cfg *Config) (*authenticator, error) {
	a := &authenticator{}
	if cfg.JWTSecretFile != "" {
		b, err := os.ReadFile(cfg.JWTSecretFile)
		if err != nil {
			return nil, fmt.Errorf("jwt secret: %w", err)
		}
		if a.secret = bytes.TrimSpace(b); len(a.secret) == 0 {
			return nil, fmt.Errorf("jwt secret: %s is empty", cfg.JWTSecretFile)
		}
	}
	if cfg.JWTPublicKeyFile != "" {
		b, err := os.ReadFile(cfg.JWTPublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("jwt public key: %w", err)
		}
		if a.pubKey, err = jwt.ParseRSAPublicKeyFromPEM(b); err != nil {
			if a.pubKey, err = jwt.ParseECPublicKeyFromPEM(b); err != nil {
				return nil, fmt.Errorf("jwt public key: %s holds no RSA or EC public key in PEM", cfg.JWTPublicKeyFile)
			}
		}
	}
	if cfg.HtpasswdFile != "" {
		f, err := os.Open(cfg.HtpasswdFile)
		if err != nil {
			return nil, fmt.Errorf("htpasswd: %w", err)
		}
		defer f.Close()
		a.htpasswd = map[string][]byte{}
		sc := bufio.NewScanner(f)
		for line := 1; sc.Scan(); line++ {
			text := strings.TrimSpace(sc.Text())
			if text == "" || strings.HasPrefix(text, "#") {
				continue
			}
			user, hash, ok := strings.Cut(text, ":")
			if !ok || !strings.HasPrefix(hash, "$2") {
				return nil, fmt.Errorf("htpasswd: %s:%d: want user:bcrypt-hash", cfg.HtpasswdFile, line)
			}
			a.htpasswd[user] = []byte(hash)
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("htpasswd: %w", err)
		}
	}
	return a, nil
}

// verify checks the request against the class's authenticate option and
// returns the verified claims ("jwt") or { user = name } ("basic").
func (a *authenticator) verify(rt *route, req *ws.Request) (map[string]any, *ws.HandshakeError, error) {
	switch rt.info.Authenticate {
	case "jwt":
		return a.verifyJWT(rt, req)
	case "basic":
		return a.verifyBasic(req)
	}
	return nil, nil, nil
}

func (a *authenticator) verifyJWT(rt *route, req *ws.Request) (map[string]any, *ws.HandshakeError, error) {
	if a.secret == nil && a.pubKey == nil {
		return nil, errAuthSetup, errors.New("authenticate = \"jwt\" needs -jwt-secret-file or -jwt-public-key")
	}
	bearer := withChallenge(errNoCredentials, `Bearer`)
	scheme, token, ok := strings.Cut(req.Header["authorization"], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, bearer, nil
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		switch t.Method.(type) {
		case *jwt.SigningMethodHMAC:
			if a.secret != nil {
				return a.secret, nil
			}
		case *jwt.SigningMethodRSA, *jwt.SigningMethodECDSA:
			if a.pubKey != nil {
				return a.pubKey, nil
			}
		}
		return nil, fmt.Errorf("no key for %s tokens", t.Method.Alg())
	}, jwt.WithValidMethods([]string{"HS256", "RS256", "ES256"}))
	if err != nil {
		return nil, withChallenge(errBadToken, `Bearer error="invalid_token"`), fmt.Errorf("token refused: %w", err)
	}
	for k, want := range rt.info.RequireClaims {
		if got, ok := claims[k]; !ok || !claimMatches(got, want) {
			return nil, errClaims, fmt.Errorf("claim %s is %v, %q required", k, got, want)
		}
	}
	return claims, nil, nil
}

// claimMatches compares a claim with a required value: equal as text, or
// the value among the claim's list ("roles": ["a", "b"]).
func claimMatches(got any, want string) bool {
	if list, ok := got.([]any); ok {
		for _, v := range list {
			if fmt.Sprint(v) == want {
				return true
			}
		}
		return false
	}
	return fmt.Sprint(got) == want
}

func (a *authenticator) verifyBasic(req *ws.Request) (map[string]any, *ws.HandshakeError, error) {
	if a.htpasswd == nil {
		return nil, errAuthSetup, errors.New("authenticate = \"basic\" needs -htpasswd")
	}
	challenge := withChallenge(errNoCredentials, `Basic realm="evserver", charset="UTF-8"`)
	scheme, enc, ok := strings.Cut(req.Header["authorization"], " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return nil, challenge, nil
	}
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, challenge, nil
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	hash, known := a.htpasswd[user]
	if !known {
		// Same work for unknown users, so timing does not tell who exists.
		hash = dummyHash
	}
	if !ok || bcrypt.CompareHashAndPassword(hash, []byte(pass)) != nil || !known {
		return nil, withChallenge(errBadPassword, `Basic realm="evserver", charset="UTF-8"`), fmt.Errorf("basic authentication failed for user %q", user)
	}
	return map[string]any{"user": user}, nil, nil
}

// dummyHash is compared against for unknown users.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("evserver-unknown-user"), bcrypt.MinCost)

func withChallenge(e *ws.HandshakeError, challenge string) *ws.HandshakeError {
	c := *e
	c.Header = []ws.HeaderField{{Name: "WWW-Authenticate", Value: challenge}}
	return &c
}
