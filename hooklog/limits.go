package hooklog

// Limits bound what one hook log may cost. Zero fields take the defaults.
type Limits struct {
	// MaxEvents bounds the calls kept; later ones are counted in Log.Dropped.
	MaxEvents int
	// MaxFrames bounds the frames kept per call (the innermost ones); the rest are counted.
	MaxFrames int
	// MaxArgs bounds the arguments kept per call.
	MaxArgs int
	// MaxCellBytes bounds one cell, argument, return value or frame; longer ones are cut.
	MaxCellBytes int
	// MaxLineBytes bounds one line of a text log; a longer line is an error of that line.
	MaxLineBytes int
	// MaxRows bounds the rows read from one sheet (an .xls sheet has at most 65,536, .xlsx
	// 1,048,576).
	MaxRows int
	// MaxUnzipBytes bounds the unpacked size of an .xlsx (a zip bomb stops at it).
	MaxUnzipBytes int64
	// MaxErrors bounds the row errors reported by text; the rest are counted.
	MaxErrors int
}

const (
	defaultMaxEvents     = 1_000_000
	defaultMaxFrames     = 256
	defaultMaxArgs       = 32
	defaultMaxCellBytes  = 64 << 10
	defaultMaxLineBytes  = 4 << 20
	defaultMaxRows       = 1_048_576
	defaultMaxUnzipBytes = 1 << 30
	defaultMaxErrors     = 20
)

func (l Limits) withDefaults() Limits {
	set := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	set(&l.MaxEvents, defaultMaxEvents)
	set(&l.MaxFrames, defaultMaxFrames)
	set(&l.MaxArgs, defaultMaxArgs)
	set(&l.MaxCellBytes, defaultMaxCellBytes)
	set(&l.MaxLineBytes, defaultMaxLineBytes)
	set(&l.MaxRows, defaultMaxRows)
	set(&l.MaxErrors, defaultMaxErrors)
	if l.MaxUnzipBytes <= 0 {
		l.MaxUnzipBytes = defaultMaxUnzipBytes
	}
	return l
}
