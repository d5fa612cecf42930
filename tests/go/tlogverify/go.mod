// A verifier of Regie's audit log built only on Go's own transparency-log code
// (docs/audit-format.md, "Verify with Go"). Online, `go mod tidy` fetches x/mod and writes
// go.sum; offline, point it at Debian's golang-golang-x-mod-dev:
//   go mod edit -replace golang.org/x/mod=/usr/share/gocode/src/golang.org/x/mod
module regie.example/tlogverify

go 1.19

require golang.org/x/mod v0.7.0
