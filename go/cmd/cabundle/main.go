// Command cabundle writes the CA bundle that goes into the image as
// /etc/ssl/certs/ca-certificates.crt.
//
// The roots come from golang.org/x/crypto/x509roots/fallback/bundle, Mozilla's
// NSS TLS server roots embedded in a Go module: pinned by go.sum, followed by
// Renovate, and independent of whatever the build host has installed.
//
// A root with a distrust-after date cannot be expressed in a PEM bundle (any
// consumer would trust it forever), so such roots are left out and counted.
package main

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"runtime/debug"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

const bundleModule = "golang.org/x/crypto/x509roots/fallback"

type report struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Sum      string `json:"sum"`
	Included int    `json:"included"`
	Dropped  int    `json:"droppedDistrustAfter"`
	Sha256   string `json:"sha256"`
}

func main() {
	out := flag.String("o", "", "write the PEM bundle to this file (required)")
	meta := flag.String("meta", "", "write a JSON description of the bundle's source to this file")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "cabundle: -o is required")
		os.Exit(2)
	}
	var pemBytes []byte
	r := report{Module: bundleModule}
	for root := range bundle.Roots() {
		if root.Constraint != nil {
			r.Dropped++
			continue
		}
		if _, err := x509.ParseCertificate(root.Certificate); err != nil {
			fmt.Fprintf(os.Stderr, "cabundle: embedded root does not parse: %v\n", err)
			os.Exit(1)
		}
		pemBytes = append(pemBytes, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Certificate})...)
		r.Included++
	}
	if r.Included < 50 {
		fmt.Fprintf(os.Stderr, "cabundle: only %d roots; refusing to write a bundle that small\n", r.Included)
		os.Exit(1)
	}
	sum := sha256.Sum256(pemBytes)
	r.Sha256 = hex.EncodeToString(sum[:])
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == bundleModule {
				r.Version, r.Sum = d.Version, d.Sum
			}
		}
	}
	if err := os.WriteFile(*out, pemBytes, 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "cabundle: %v\n", err)
		os.Exit(1)
	}
	if *meta != "" {
		j, _ := json.MarshalIndent(r, "", "  ")
		if err := os.WriteFile(*meta, append(j, '\n'), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "cabundle: %v\n", err)
			os.Exit(1)
		}
	}
}
