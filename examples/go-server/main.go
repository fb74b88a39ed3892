// Command go-server is the example from the multi-stage builds article: a small web
// server built in a golang stage and shipped in a tiny final image.
//
//	GET /         answers "hello from skiff"
//	GET /healthz  reports, as JSON, the user and group the process runs as
//
// It listens on :8080 (the PORT environment variable overrides the port). With
// -check URL it instead makes one HTTPS GET, verified against the system's CA
// certificates, and exits 0 on a 2xx answer: that is what needs ca-certificates
// in the final image.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"
)

func main() {
	check := flag.String("check", "", "make an HTTPS GET to `URL` (system CA certificates) and exit 0 on a 2xx answer")
	flag.Parse()

	if *check != "" {
		if err := checkURL(*check); err != nil {
			fmt.Fprintf(os.Stderr, "check %s: %v\n", *check, err)
			os.Exit(1)
		}
		fmt.Printf("check %s: ok\n", *check)
		return
	}

	addr := ":8080"
	if port := os.Getenv("PORT"); port != "" {
		addr = ":" + port
	}
	server := &http.Server{
		Addr:              addr,
		Handler:           newMux(),
		ReadHeaderTimeout: 5 * time.Second,
	}
	log.Printf("listening on %s as uid %d gid %d", addr, os.Getuid(), os.Getgid())
	log.Fatal(server.ListenAndServe())
}

// health is the /healthz answer: enough to see whether the image dropped root.
type health struct {
	Status string `json:"status"`
	UID    int    `json:"uid"`
	GID    int    `json:"gid"`
}

func newMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, "hello from skiff\n")
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(health{Status: "ok", UID: os.Getuid(), GID: os.Getgid()})
	})
	return mux
}

// checkURL makes one GET with a client that trusts exactly the system certificate
// pool (which honours SSL_CERT_FILE and SSL_CERT_DIR) and fails unless the answer is 2xx.
func checkURL(url string) error {
	pool, err := x509.SystemCertPool()
	if err != nil {
		return fmt.Errorf("loading the system CA certificates: %w", err)
	}
	client := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		},
	}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}
