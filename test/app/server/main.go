// The test application the real-node integration tests deploy (see "The test app" in test/cluster/README.md). Its behaviour comes from
// its mounted config file and its environment, so a test makes a release healthy or broken by editing skycap.yaml or
// a config file:
//
//	/            "version=<VERSION> greeting=<greeting from the config file> host=<pod name>"
//	/healthz     200, or 503 while not yet ready (ready_after) or when configured to fail (healthz=fail)
//	(args `exit N`: print one line and exit with N, for smoke-test Jobs)
//
// Settings: APP_CONFIG (default /etc/skycap/config/app.properties), lines key=value, read at start and on every
// request; the same keys from the environment (APP_VERSION... see settingEnv) win over the file.
package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// Set with -ldflags "-X main.version=..." when the image is built; APP_VERSION overrides it.
var version = "dev"

var settingEnv = map[string]string{
	"version":     "APP_VERSION",
	"greeting":    "APP_GREETING",
	"healthz":     "APP_HEALTHZ",     // "fail": /healthz answers 503
	"exit":        "APP_EXIT",        // a number: print a fatal line and exit with it at start
	"ready_after": "APP_READY_AFTER", // a Go duration: /healthz answers 503 until this long after start
	"noise":       "APP_NOISE",       // a Go duration: one DEBUG line this often (default 2s, 0 = never)
}

func configPath() string {
	if p := os.Getenv("APP_CONFIG"); p != "" {
		return p
	}
	return "/etc/skycap/config/app.properties"
}

func settings() map[string]string {
	s := map[string]string{"version": version, "greeting": "(none)", "noise": "2s"}
	if f, err := os.Open(configPath()); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
				s[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
		f.Close()
	}
	for k, env := range settingEnv {
		if v, ok := os.LookupEnv(env); ok {
			s[k] = v
		}
	}
	return s
}

func main() {
	start := time.Now()
	s := settings()
	fmt.Printf("starting skycap test app version=%s pid=%d\n", s["version"], os.Getpid())
	fmt.Printf("DEBUG config from %s: %v\n", configPath(), s)
	// One-shot mode for smoke-test Jobs (skycap's job check): `app exit N` prints a line and exits with N.
	if len(os.Args) == 3 && os.Args[1] == "exit" {
		n := 0
		fmt.Sscanf(os.Args[2], "%d", &n)
		fmt.Printf("smoke test of version=%s: exit %d\n", s["version"], n)
		os.Exit(n)
	}
	if code := s["exit"]; code != "" && code != "0" {
		n := 1
		fmt.Sscanf(code, "%d", &n)
		fmt.Fprintf(os.Stderr, "fatal: configured to exit %d at start (version=%s)\n", n, s["version"])
		os.Exit(n)
	}
	readyAfter, _ := time.ParseDuration(s["ready_after"])
	if noise, err := time.ParseDuration(s["noise"]); err == nil && noise > 0 {
		go func() {
			for n := 1; ; n++ {
				time.Sleep(noise)
				fmt.Printf("DEBUG heartbeat %d\n", n)
			}
		}()
	}
	var requests atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		s := settings()
		code := http.StatusOK
		switch {
		case s["healthz"] == "fail":
			code = http.StatusServiceUnavailable
		case time.Since(start) < readyAfter:
			code = http.StatusServiceUnavailable
		}
		w.WriteHeader(code)
		fmt.Fprintln(w, http.StatusText(code))
		fmt.Printf("GET /healthz %d\n", code)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s := settings()
		n := requests.Add(1)
		host, _ := os.Hostname()
		fmt.Fprintf(w, "version=%s greeting=%s host=%s\n", s["version"], s["greeting"], host)
		fmt.Printf("request %d: %s %s from %s agent=%q version=%s\n", n, r.Method, r.URL.RequestURI(), r.RemoteAddr, r.UserAgent(), s["version"])
	})
	addr := ":" + envOr("PORT", "8080")
	fmt.Printf("listening on %s\n", addr)
	if err := http.ListenAndServe(addr, mux); err != nil {
		fmt.Fprintf(os.Stderr, "fatal: %v\n", err)
		os.Exit(2)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
