package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
)

func get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	srv := httptest.NewServer(newMux())
	defer srv.Close()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func TestRootAnswersHello(t *testing.T) {
	resp, body := get(t, "/")
	if resp.StatusCode != http.StatusOK || body != "hello from skiff\n" {
		t.Fatalf("GET / = %d %q", resp.StatusCode, body)
	}
}

func TestUnknownPathIsNotFound(t *testing.T) {
	if resp, _ := get(t, "/nope"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /nope = %d, want 404", resp.StatusCode)
	}
}

func TestHealthzReportsUIDAndGID(t *testing.T) {
	_, body := get(t, "/healthz")
	var h health
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		t.Fatalf("GET /healthz = %q: %v", body, err)
	}
	if h.Status != "ok" || h.UID != os.Getuid() || h.GID != os.Getgid() {
		t.Fatalf("GET /healthz = %+v, want uid %d gid %d", h, os.Getuid(), os.Getgid())
	}
}

func TestCheckFailsOnUntrustedCertificate(t *testing.T) {
	srv := httptest.NewTLSServer(newMux())
	defer srv.Close()
	if err := checkURL(srv.URL + "/healthz"); err == nil {
		t.Fatal("check trusted httptest's self-signed certificate; it must use only the system pool")
	}
}
