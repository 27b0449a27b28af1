// The test application the real-node integration tests deploy (see "The test app" in test/cluster/README.md). Its behaviour comes from
// its mounted config file and its environment, so a test makes a release healthy or broken by editing skycap.yaml or
// a config file:
//
//	/            "version=<VERSION> greeting=<greeting from the config file> host=<pod name>"
//	/healthz     200, or 503 while not yet ready (ready_after) or when configured to fail (healthz=fail)
//	/data        what the file named by data_file held when the process started (404 without one)
//
// With arguments it is a one-off command instead (hooks, skycap run/exec; the image has no shell):
//
//	app say LINE...          prints each LINE
//	app exit N LINE...       prints each LINE (none: "smoke test of version=<version>: exit N"), exits N
//	app write FILE TEXT      writes TEXT to FILE
//	app whoami               prints "host=<hostname> version=<version>"
//	app console              reads lines: "quit N" exits N, anything else is answered (with whether stdin is a terminal)
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
	"data_file":   "APP_DATA_FILE",   // a file read once at start and served at /data
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
	if len(os.Args) > 1 {
		os.Exit(task(os.Args[1:]))
	}
	start := time.Now()
	s := settings()
	data, dataErr := os.ReadFile(s["data_file"])
	fmt.Printf("starting skycap test app version=%s pid=%d\n", s["version"], os.Getpid())
	fmt.Printf("DEBUG config from %s: %v\n", configPath(), s)
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
	mux.HandleFunc("/data", func(w http.ResponseWriter, r *http.Request) {
		if s["data_file"] == "" || dataErr != nil {
			http.Error(w, fmt.Sprintf("no data file at start: %v", dataErr), http.StatusNotFound)
			return
		}
		w.Write(data)
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

// task runs one of the one-off commands and returns its exit code.
func task(args []string) int {
	switch args[0] {
	case "say":
		for _, l := range args[1:] {
			fmt.Println(l)
		}
		return 0
	case "exit":
		n := 1
		if len(args) > 1 {
			fmt.Sscanf(args[1], "%d", &n)
		}
		if len(args) > 2 {
			for _, l := range args[2:] {
				fmt.Println(l)
			}
		} else {
			// skycap's job check (strategies) reads this line in the smoke-test Job's logs.
			fmt.Printf("smoke test of version=%s: exit %d\n", settings()["version"], n)
		}
		return n
	case "write":
		if len(args) != 3 {
			fmt.Fprintln(os.Stderr, "usage: app write FILE TEXT")
			return 2
		}
		if err := os.WriteFile(args[1], []byte(args[2]+"\n"), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "write: %v\n", err)
			return 1
		}
		fmt.Printf("wrote %s: %s\n", args[1], args[2])
		return 0
	case "whoami":
		host, _ := os.Hostname()
		fmt.Printf("host=%s version=%s\n", host, settings()["version"])
		return 0
	case "console":
		st, _ := os.Stdin.Stat()
		terminal := st != nil && st.Mode()&os.ModeCharDevice != 0
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if rest, ok := strings.CutPrefix(line, "quit"); ok {
				n := 0
				fmt.Sscanf(strings.TrimSpace(rest), "%d", &n)
				fmt.Printf("bye (%d)\n", n)
				return n
			}
			fmt.Printf("you said: %s (terminal: %v)\n", line, terminal)
		}
		return 0
	}
	fmt.Fprintf(os.Stderr, "unknown command %q\n", args[0])
	return 2
}
