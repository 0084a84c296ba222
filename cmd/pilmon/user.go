package main

// Owned by the dashboard work (issue 10).

var runUser = notYet("user", 10)
