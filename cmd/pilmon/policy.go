package main

// Owned by the privacy-policy work (issue 5).

var runPolicy = notYet("policy", 5)
