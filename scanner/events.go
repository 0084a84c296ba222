package scanner

// The progress vocabulary of a scan, one set of names for everything that emits or shows
// progress: the scanner's own events (Options.Events), the pipeline's events on the events
// stream (store.Event.Kind), the CLI's progress printer and the dashboard. Names are dotted,
// "<subject>.<what happened>".
const (
	// EventScanStarted: a scan began (scanner and pipeline).
	EventScanStarted = "scan.started"
	// EventSourceFetched: an input itself was stored as evidence (pipeline).
	EventSourceFetched = "source.fetched"
	// EventInspectorStarted: an inspector began on one source (scanner only; not published).
	EventInspectorStarted = "inspector.started"
	// EventInspectorFinished: an inspector finished one source, with its status and Done/Total
	// (scanner and pipeline).
	EventInspectorFinished = "inspector.finished"
	// EventFindingsUpserted: the scan's findings were stored (pipeline, only with a store).
	EventFindingsUpserted = "findings.upserted"
	// EventScanFinished: the scan ended (scanner and pipeline).
	EventScanFinished = "scan.finished"
)
