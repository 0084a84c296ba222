package main

// Owned by the scheduling and workers work (issue 9).

var (
	runWorker   = notYet("worker", 9)
	runSchedule = notYet("schedule", 9)
	runTarget   = notYet("target", 9)
)
