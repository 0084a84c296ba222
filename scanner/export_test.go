package scanner

// Exported for the external tests of detection, which use the kinds the inspectors declare.
var Sniff = sniff

const MaxSniff = maxSniff
