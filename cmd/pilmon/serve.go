package main

// Owned by the dashboard work (issue 10).

var runServe = notYet("serve", 10)
