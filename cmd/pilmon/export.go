package main

// Owned by the case-file work (issue 11).

var (
	runExport = notYet("export", 11)
	runVerify = notYet("verify", 11)
)
