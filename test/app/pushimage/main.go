// pushimage builds a one-layer image FROM scratch out of local files and pushes it to a registry with the Registry
// HTTP API v2 (plain http: the test cluster's registry listens on 127.0.0.1). No docker daemon is involved.
//
//	pushimage -registry 127.0.0.1:5000 -image skycap-test/app -tag 1 -entrypoint /app -user 65534:65534 \
//	  -file /app=/tmp/build/app [-file /other=...] [-label k=v]
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"runtime"
	"sort"
	"strings"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	registry := flag.String("registry", "", "host:port of the registry (plain http)")
	image := flag.String("image", "", "repository, e.g. skycap-test/app")
	var tags, files, labels list
	flag.Var(&tags, "tag", "tag to push (repeatable)")
	flag.Var(&files, "file", "IMAGE_PATH=LOCAL_FILE, mode 0755 (repeatable)")
	flag.Var(&labels, "label", "image label k=v (repeatable)")
	entrypoint := flag.String("entrypoint", "", "the image's entrypoint (one path)")
	user := flag.String("user", "", "the image's user, uid:gid")
	flag.Parse()
	if *registry == "" || *image == "" || len(tags) == 0 || len(files) == 0 {
		fail("need -registry, -image, -tag and -file")
	}
	layer, diffID := layerOf(files)
	labelMap := map[string]string{}
	for _, l := range labels {
		k, v, _ := strings.Cut(l, "=")
		labelMap[k] = v
	}
	cfg := map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"config":       map[string]any{"Entrypoint": []string{*entrypoint}, "User": *user, "Labels": labelMap, "Env": []string{"PATH=/"}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{diffID}},
		"history":      []map[string]string{{"created_by": "skycap test/app/pushimage"}},
	}
	cfgJSON, _ := json.Marshal(cfg)
	base := "http://" + *registry + "/v2/" + *image
	push(base, layer)
	push(base, cfgJSON)
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.docker.distribution.manifest.v2+json",
		"config":        map[string]any{"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(cfgJSON), "digest": digest(cfgJSON)},
		"layers":        []map[string]any{{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": len(layer), "digest": digest(layer)}},
	})
	for _, tag := range tags {
		req, _ := http.NewRequest(http.MethodPut, base+"/manifests/"+tag, bytes.NewReader(manifest))
		req.Header.Set("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
		expect(req, http.StatusCreated)
		fmt.Printf("%s/%s:%s\n", *registry, *image, tag)
	}
}

// layerOf writes the files (and their parent directories) into a gzipped tar with fixed times and owners, so the
// same binaries give the same digest.
func layerOf(files []string) (gz []byte, diffID string) {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	sort.Strings(files)
	dirs := map[string]bool{}
	for _, f := range files {
		dst, src, ok := strings.Cut(f, "=")
		if !ok || !strings.HasPrefix(dst, "/") {
			fail("-file %q: want /IMAGE_PATH=LOCAL_FILE", f)
		}
		var parents []string
		for d := path.Dir(dst); d != "/"; d = path.Dir(d) {
			parents = append([]string{d}, parents...)
		}
		for _, d := range parents {
			if !dirs[d] {
				dirs[d] = true
				check(tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(d, "/") + "/", Mode: 0o755, Format: tar.FormatPAX}))
			}
		}
		data, err := os.ReadFile(src)
		check(err)
		check(tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(dst, "/"), Mode: 0o755, Size: int64(len(data)), Format: tar.FormatPAX}))
		_, err = tw.Write(data)
		check(err)
	}
	check(tw.Close())
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	_, err := zw.Write(raw.Bytes())
	check(err)
	check(zw.Close())
	return out.Bytes(), digest(raw.Bytes())
}

// push uploads a blob unless the registry has it already (monolithic upload: POST, then PUT with the digest).
func push(base string, blob []byte) {
	d := digest(blob)
	if r, err := http.Head(base + "/blobs/" + d); err == nil && r.StatusCode == http.StatusOK {
		return
	}
	r, err := http.Post(base+"/blobs/uploads/", "application/octet-stream", nil)
	check(err)
	r.Body.Close()
	if r.StatusCode != http.StatusAccepted {
		fail("POST %s/blobs/uploads/: HTTP %d", base, r.StatusCode)
	}
	loc, err := url.Parse(r.Header.Get("Location"))
	check(err)
	loc = r.Request.URL.ResolveReference(loc)
	q := loc.Query()
	q.Set("digest", d)
	loc.RawQuery = q.Encode()
	req, _ := http.NewRequest(http.MethodPut, loc.String(), bytes.NewReader(blob))
	req.Header.Set("Content-Type", "application/octet-stream")
	expect(req, http.StatusCreated)
}

func expect(req *http.Request, status int) {
	r, err := http.DefaultClient.Do(req)
	check(err)
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != status {
		fail("%s %s: HTTP %d %s", req.Method, req.URL, r.StatusCode, body)
	}
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func check(err error) {
	if err != nil {
		fail("%v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pushimage: "+format+"\n", args...)
	os.Exit(1)
}
