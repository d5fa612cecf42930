// Command tlogverify checks a Regie vault's audit log with Go's own code for transparency
// logs, golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog, and nothing of Regie's:
//
//   - the latest checkpoint (`<log>/checkpoint`) must be a signed note under -key
//     (note.Open) whose origin is the key's name;
//   - the tree's hashes are read only from the C2SP tlog-tiles hash tiles (`<log>/tile/...`),
//     through tlog.TileHashReader; every proof built from them is then checked against the
//     signed root (x/mod 0.7.0's TileHashReader checks the tiles holding the tree's peaks
//     against the root, but can skip a child tile's check against its parent, so no hash
//     is trusted before CheckRecord or CheckTree);
//   - entry -index must be in the checkpoint's tree (tlog.ProveRecord, tlog.CheckRecord), with
//     the leaf hash tlog.RecordHash of the file -record (an entry's canonical bytes) if given;
//   - the checkpoint of size -old must be a prefix of it (tlog.ProveTree, tlog.CheckTree);
//   - the vault's own proofs (`<log>/proof/inclusion`, `<log>/proof/consistency`) must verify
//     with Go's checks, and equal the proofs Go built from the tiles.
//
// It prints one line per check and ends with VERIFIED, or prints FAILED: why, and exits 1.
//
//	tlogverify -log http://localhost:8000/v1/audit -key "$(curl -s .../v1/audit/key | jq -r .verifier_key)" -index 3 -old 2
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Regie's tiles have height 8, as C2SP tlog-tiles fixes.
const height = 8

var client = &http.Client{Timeout: 30 * time.Second}

func main() {
	log := flag.String("log", "", "the log's URL prefix, e.g. http://localhost:8000/v1/audit")
	key := flag.String("key", "", "the verifier key (GET <log>/key: verifier_key)")
	index := flag.Int64("index", -1, "an entry that must be in the latest checkpoint")
	record := flag.String("record", "", "a file with that entry's canonical bytes")
	old := flag.Int64("old", 0, "an older checkpoint's size that must be a prefix")
	flag.Parse()
	if err := run(strings.TrimRight(*log, "/"), *key, *index, *record, *old); err != nil {
		fmt.Fprintln(os.Stderr, "FAILED:", err)
		os.Exit(1)
	}
	fmt.Println("VERIFIED")
}

func run(log, key string, index int64, record string, old int64) error {
	verifier, err := note.NewVerifier(key)
	if err != nil {
		return fmt.Errorf("verifier key: %w", err)
	}
	tree, err := checkpoint(log, "", verifier)
	if err != nil {
		return err
	}
	fmt.Printf("checkpoint: size %d, root %s, signed by %s\n", tree.N, tree.Hash, verifier.Name())
	hashes := tlog.TileHashReader(tree, &tileReader{log: log})
	if index >= 0 {
		if err := inclusion(log, tree, hashes, index, record); err != nil {
			return err
		}
	}
	if old > 0 {
		if err := consistency(log, verifier, tree, hashes, old); err != nil {
			return err
		}
	}
	return nil
}

// checkpoint fetches the latest checkpoint (or the one of size `size`) and opens it.
func checkpoint(log, size string, verifier note.Verifier) (tlog.Tree, error) {
	query := ""
	if size != "" {
		query = "?size=" + size
	}
	msg, err := get(log + "/checkpoint" + query)
	if err != nil {
		return tlog.Tree{}, err
	}
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		return tlog.Tree{}, fmt.Errorf("checkpoint: %w", err)
	}
	// A C2SP checkpoint is Go's tree note with the log's origin as its first line: check the
	// origin, then let tlog.ParseTree parse (strictly) the size and root that follow.
	origin, rest, _ := strings.Cut(n.Text, "\n")
	if origin != verifier.Name() {
		return tlog.Tree{}, fmt.Errorf("checkpoint of log %q, not %q", origin, verifier.Name())
	}
	tree, err := tlog.ParseTree([]byte("go.sum database tree\n" + rest))
	if err != nil {
		return tlog.Tree{}, fmt.Errorf("checkpoint: %w", err)
	}
	return tree, nil
}

func inclusion(log string, tree tlog.Tree, hashes tlog.HashReader, index int64, record string) error {
	if index >= tree.N {
		return fmt.Errorf("entry %d is not in the checkpoint of size %d", index, tree.N)
	}
	// The leaf: Go's record hash (RFC 6962: SHA-256(0x00 || data)) of the entry given, or
	// the hash the tiles hold (checked against the root by CheckRecord below).
	var leaf tlog.Hash
	if record != "" {
		data, err := os.ReadFile(record)
		if err != nil {
			return err
		}
		leaf = tlog.RecordHash(data)
	} else {
		got, err := hashes.ReadHashes([]int64{tlog.StoredHashIndex(0, index)})
		if err != nil {
			return fmt.Errorf("tiles: %w", err)
		}
		leaf = got[0]
	}
	proof, err := tlog.ProveRecord(tree.N, index, hashes)
	if err != nil {
		return fmt.Errorf("tiles: %w", err)
	}
	if err := tlog.CheckRecord(proof, tree.N, tree.Hash, index, leaf); err != nil {
		return fmt.Errorf("entry %d from the tiles: %w", index, err)
	}
	fmt.Printf("inclusion from tiles: entry %d, leaf %s\n", index, leaf)
	var served struct {
		LeafHash string   `json:"leaf_hash"`
		Hashes   []string `json:"hashes"`
	}
	q := url.Values{"index": {fmt.Sprint(index)}, "size": {fmt.Sprint(tree.N)}}
	if err := getJSON(log+"/proof/inclusion?"+q.Encode(), &served); err != nil {
		return err
	}
	apiLeaf, err := tlog.ParseHash(served.LeafHash)
	if err != nil || apiLeaf != leaf {
		return fmt.Errorf("the vault's leaf hash for entry %d is %q, not %s", index, served.LeafHash, leaf)
	}
	apiProof, err := parseHashes(served.Hashes)
	if err != nil {
		return err
	}
	if err := tlog.CheckRecord(apiProof, tree.N, tree.Hash, index, leaf); err != nil {
		return fmt.Errorf("the vault's inclusion proof for entry %d: %w", index, err)
	}
	if !equal(apiProof, proof) {
		return fmt.Errorf("the vault's inclusion proof for entry %d differs from Go's", index)
	}
	fmt.Printf("inclusion from the vault's proof: entry %d, %d hashes, same as Go's\n", index, len(proof))
	return nil
}

func consistency(log string, verifier note.Verifier, tree tlog.Tree, hashes tlog.HashReader, size int64) error {
	if size > tree.N {
		return fmt.Errorf("checkpoint %d is newer than %d", size, tree.N)
	}
	older, err := checkpoint(log, fmt.Sprint(size), verifier)
	if err != nil {
		return err
	}
	if older.N != size {
		return fmt.Errorf("asked for the checkpoint of size %d, got %d", size, older.N)
	}
	proof, err := tlog.ProveTree(tree.N, older.N, hashes)
	if err != nil {
		return fmt.Errorf("tiles: %w", err)
	}
	if err := tlog.CheckTree(proof, tree.N, tree.Hash, older.N, older.Hash); err != nil {
		return fmt.Errorf("checkpoint %d in %d from the tiles: %w", older.N, tree.N, err)
	}
	fmt.Printf("consistency from tiles: %d is a prefix of %d\n", older.N, tree.N)
	var served struct {
		Hashes []string `json:"hashes"`
	}
	q := url.Values{"old": {fmt.Sprint(older.N)}, "new": {fmt.Sprint(tree.N)}}
	if err := getJSON(log+"/proof/consistency?"+q.Encode(), &served); err != nil {
		return err
	}
	apiProof, err := parseHashes(served.Hashes)
	if err != nil {
		return err
	}
	if err := tlog.CheckTree(apiProof, tree.N, tree.Hash, older.N, older.Hash); err != nil {
		return fmt.Errorf("the vault's consistency proof %d..%d: %w", older.N, tree.N, err)
	}
	if !equal(apiProof, proof) {
		return fmt.Errorf("the vault's consistency proof %d..%d differs from Go's", older.N, tree.N)
	}
	fmt.Printf("consistency from the vault's proof: %d hashes, same as Go's\n", len(proof))
	return nil
}

// tileReader reads hash tiles over HTTP. Go's sumdb paths hold the height
// (tile/8/L/N...); C2SP tlog-tiles fixes it at 8 and leaves it out (tile/L/N...).
type tileReader struct{ log string }

func (r *tileReader) Height() int { return height }

func (r *tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	data := make([][]byte, len(tiles))
	for i, t := range tiles {
		path := "tile/" + strings.TrimPrefix(t.Path(), fmt.Sprintf("tile/%d/", height))
		b, err := get(r.log + "/" + path)
		if err != nil {
			return nil, err
		}
		if len(b) != t.W*tlog.HashSize {
			return nil, fmt.Errorf("%s: %d bytes, want %d", path, len(b), t.W*tlog.HashSize)
		}
		data[i] = b
	}
	return data, nil
}

// SaveTiles is where a client would keep tiles TileHashReader has authenticated; this one
// keeps nothing.
func (r *tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

func get(u string) ([]byte, error) {
	resp, err := client.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", u, resp.Status, body)
	}
	return body, nil
}

func getJSON(u string, v any) error {
	body, err := get(u)
	if err != nil {
		return err
	}
	return json.Unmarshal(body, v)
}

// parseHashes decodes a proof's base64 hashes.
func parseHashes(in []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(in))
	for i, s := range in {
		h, err := tlog.ParseHash(s)
		if err != nil {
			return nil, fmt.Errorf("proof hash %d: %w", i, err)
		}
		out[i] = h
	}
	return out, nil
}

func equal(a, b []tlog.Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
