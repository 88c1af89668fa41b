package state

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// fileDoc is the state file's document. Targets is filled only by callers
// that keep every record (UpdateOutbox, tests); Load and Save stream the
// records past (scanFileDoc) instead of holding the file, a copy of each
// record and the encoded new file at once.
type fileDoc struct {
	Version int                        `json:"version"`
	Targets map[string]json.RawMessage `json:"targets"`
	Saved   map[string]int64           `json:"saved,omitempty"`
	Outbox  map[string]json.RawMessage `json:"outbox,omitempty"`
}

// errNotObject is scanFileDoc's error for a "targets" that is no object.
var errNotObject = errors.New(`"targets" is not an object`)

// scanFileDoc reads a state document from r as json.Unmarshal would read
// it into a fileDoc (keys matched without regard to case, a repeated key's
// object merged into the earlier one, null emptying it), but passes each
// record to record instead of keeping it: raw is only valid during the
// call. reset is called when a later "targets": null drops the records
// passed so far. On error, the records passed must be ignored: the
// document is not a state document.
func scanFileDoc(r io.Reader, record func(id string, raw []byte), reset func()) (fileDoc, error) {
	doc, err := scanFileDocFields(json.NewDecoder(r), record, reset)
	if err != nil {
		return fileDoc{}, fmt.Errorf("not a state document: %w", err)
	}
	if doc.Version != fileVersion {
		return fileDoc{}, fmt.Errorf("%w %d of the state file (this build reads %d)", ErrVersion, doc.Version, fileVersion)
	}
	if doc.Saved == nil {
		doc.Saved = map[string]int64{}
	}
	if doc.Outbox == nil {
		doc.Outbox = map[string]json.RawMessage{}
	}
	return doc, nil
}

func scanFileDocFields(dec *json.Decoder, record func(id string, raw []byte), reset func()) (fileDoc, error) {
	var doc fileDoc
	tok, err := dec.Token()
	if err != nil {
		return doc, err
	}
	switch tok {
	case nil: // null: a document without fields
	case json.Delim('{'):
		var raw, skip json.RawMessage
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return doc, err
			}
			key, _ := tok.(string)
			switch {
			case strings.EqualFold(key, "version"):
				err = dec.Decode(&doc.Version)
			case strings.EqualFold(key, "saved"):
				err = dec.Decode(&doc.Saved)
			case strings.EqualFold(key, "outbox"):
				err = dec.Decode(&doc.Outbox)
			case strings.EqualFold(key, "targets"):
				err = scanTargets(dec, &raw, record, reset)
			default:
				err = dec.Decode(&skip)
			}
			if err != nil {
				return doc, err
			}
		}
		if _, err := dec.Token(); err != nil {
			return doc, err
		}
	default:
		return doc, fmt.Errorf("document is %v, not an object", tok)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("data after the document")
		}
		return doc, err
	}
	return doc, nil
}

// scanTargets reads the "targets" object, a record at a time into raw.
func scanTargets(dec *json.Decoder, raw *json.RawMessage, record func(id string, raw []byte), reset func()) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case nil:
		reset()
		return nil
	case json.Delim('{'):
	default:
		return errNotObject
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		id, _ := tok.(string)
		if err := dec.Decode(raw); err != nil {
			return err
		}
		record(id, *raw)
	}
	_, err = dec.Token()
	return err
}

// docWriter writes a state document: its records, which must come in
// order of ID (as json.Marshal orders a map's keys), then the rest.
type docWriter struct {
	w       *bufio.Writer
	n       int
	scratch []byte
}

func newDocWriter(w io.Writer) *docWriter {
	d := &docWriter{w: bufio.NewWriterSize(w, 64<<10)}
	fmt.Fprintf(d.w, `{"version":%d,"targets":{`, fileVersion)
	return d
}

// key writes a key of an object, after a comma unless it is the first.
func (d *docWriter) key(first bool, id string) {
	if !first {
		d.w.WriteByte(',')
	}
	d.scratch = appendJSONString(d.scratch[:0], id)
	d.scratch = append(d.scratch, ':')
	d.w.Write(d.scratch)
}

func (d *docWriter) record(id string, raw []byte) {
	d.key(d.n == 0, id)
	d.w.Write(raw)
	d.n++
}

// finish writes the saved times and the outbox, and flushes.
func (d *docWriter) finish(saved map[string]int64, outbox map[string]json.RawMessage) error {
	d.w.WriteByte('}')
	if len(saved) > 0 {
		d.w.WriteString(`,"saved":{`)
		for i, id := range sortedKeys(saved) {
			d.key(i == 0, id)
			d.scratch = fmt.Appendf(d.scratch[:0], "%d", saved[id])
			d.w.Write(d.scratch)
		}
		d.w.WriteByte('}')
	}
	if len(outbox) > 0 {
		d.w.WriteString(`,"outbox":{`)
		for i, id := range sortedKeys(outbox) {
			d.key(i == 0, id)
			d.w.Write(outbox[id])
		}
		d.w.WriteByte('}')
	}
	d.w.WriteString("}\n")
	return d.w.Flush()
}

// sortRecords sorts recs by ID and, of records of the same ID, keeps the
// last, as a map assignment in their order would.
func sortRecords(recs []record) []record {
	slices.SortStableFunc(recs, func(a, b record) int { return strings.Compare(a.id, b.id) })
	out := recs[:0]
	for i, r := range recs {
		if i+1 < len(recs) && recs[i+1].id == r.id {
			continue
		}
		out = append(out, r)
	}
	return out
}
