package native

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
)

// uploadMedia are the request body types a sound upload takes as the
// file itself; multipart/form-data carries it in a part named file.
var uploadMedia = []string{"audio/wav", "audio/x-wav", "audio/wave", "audio/mpeg", "audio/mp3", "application/octet-stream"}

// uploadDoc documents a sound upload's body.
const uploadDoc = "The file as the body (Content-Type audio/wav, audio/mpeg or application/octet-stream), " +
	"or multipart/form-data with the file in a part named file (curl -F file=@greeting.wav). " +
	"WAV (PCM 8–32 bit, float, A-law, µ-law, any rate, any channels) or MP3, at most 20 MiB and 10 minutes; " +
	"the format is read from the content, not the name. It is converted to 8 and 16 kHz mono 16-bit WAV."

// soundRoutes are the tenants' sound files: uploaded once, converted to
// what the switches play, listed, fetched and deleted.
func (s *server) soundRoutes() []*route {
	base := Prefix + "/sounds"
	item := base + "/{id}"
	view := reflect.TypeFor[provisioning.Sound]()
	return []*route{
		{
			method: http.MethodGet, path: base, op: "listSounds", tag: "sounds",
			summary: "List sounds in the caller's scope",
			query:   append([]param{{name: "tenant_id", typ: "id", doc: "only this tenant's sounds"}}, pageParams...),
			resp:    response{status: http.StatusOK, list: true, typ: view, name: "Sound"},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				p, err := c.page()
				if err != nil {
					return err
				}
				f := provisioning.SoundFilter{Page: p}
				if f.TenantID, err = c.id("tenant_id"); err != nil {
					return err
				}
				ss, err := s.svc.Sounds(req.Context(), c.scope, f)
				if err != nil {
					return err
				}
				out := list[provisioning.Sound]{Items: ss}
				if len(ss) == p.Limit && len(ss) > 0 {
					out.NextCursor = api.EncodeCursor(ss[len(ss)-1].ID)
				}
				return writeJSON(w, http.StatusOK, out)
			},
		},
		{
			method: http.MethodPost, path: base, op: "createSound", tag: "sounds",
			summary: "Upload a sound file",
			doc:     uploadDoc + " A name the tenant already uses is 409 on name; a file that is not audio, or silent, is 400 on file; too large is 413.",
			query: []param{
				{name: "tenant_id", typ: "id", doc: "the tenant the sound belongs to (or a multipart field of that name)"},
				{name: "name", typ: "string", doc: "the sound's name, unique in the tenant (or a multipart field of that name)"},
			},
			upload: true,
			resp:   response{status: http.StatusCreated, typ: view, name: "Sound"},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				file, fields, err := readUpload(w, req)
				if err != nil {
					return err
				}
				defer file.Close()
				snd := &provisioning.Sound{Name: c.str("name")}
				if snd.Name == "" {
					snd.Name = fields["name"]
				}
				tid := c.str("tenant_id")
				if tid == "" {
					tid = fields["tenant_id"]
				}
				if tid == "" {
					return provisioning.Invalid("tenant_id", "is required")
				}
				if snd.TenantID, err = strconv.ParseInt(tid, 10, 64); err != nil || snd.TenantID <= 0 {
					return provisioning.Invalid("tenant_id", "must be a positive integer")
				}
				if err := s.svc.CreateSound(req.Context(), c.scope, snd, file); err != nil {
					return err
				}
				w.Header().Set("Location", base+"/"+strconv.FormatInt(snd.ID, 10))
				return writeJSON(w, http.StatusCreated, snd)
			},
		},
		{
			method: http.MethodGet, path: item, op: "getSound", tag: "sounds",
			summary: "Get one sound",
			resp:    response{status: http.StatusOK, typ: view, name: "Sound"},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				id, err := pathID(req)
				if err != nil {
					return err
				}
				snd, err := s.svc.Sound(req.Context(), c.scope, id)
				if err != nil {
					return err
				}
				return writeJSON(w, http.StatusOK, snd)
			},
		},
		{
			method: http.MethodGet, path: item + "/audio", op: "getSoundAudio", tag: "sounds",
			summary: "The sound as a WAV file at a rate",
			doc:     "Mono 16-bit PCM WAV at rate (8000 or 16000). The ETag changes with every upload; If-None-Match is answered 304.",
			query:   []param{{name: "rate", typ: "string", doc: "8000 (default) or 16000", enum: []string{"8000", "16000"}}},
			resp: response{status: http.StatusOK, media: "audio/wav", mediaDoc: "the WAV file",
				headers: map[string]string{"ETag": "the converted audio's SHA-256 and rate"}},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				id, err := pathID(req)
				if err != nil {
					return err
				}
				rate := 8000
				if v := c.str("rate"); v != "" {
					if rate, err = strconv.Atoi(v); err != nil {
						return badParam("rate", "must be 8000 or 16000")
					}
				}
				snd, wav, err := s.svc.SoundAudio(req.Context(), c.scope, id, rate)
				if err != nil {
					var fe *provisioning.FieldError
					if errors.As(err, &fe) && fe.Field == "rate" {
						return badParam("rate", "must be 8000 or 16000")
					}
					return err
				}
				etag := `"` + snd.SHA256[:16] + "-" + strconv.Itoa(rate) + `"`
				w.Header().Set("ETag", etag)
				w.Header().Set("Cache-Control", "private, no-cache")
				if req.Header.Get("If-None-Match") == etag {
					w.WriteHeader(http.StatusNotModified)
					return nil
				}
				w.Header().Set("Content-Type", "audio/wav")
				w.Header().Set("Content-Length", strconv.Itoa(len(wav)))
				w.WriteHeader(http.StatusOK)
				_, _ = w.Write(wav)
				return nil
			},
		},
		{
			method: http.MethodPut, path: item + "/audio", op: "replaceSoundAudio", tag: "sounds",
			summary: "Upload a new file for a sound",
			doc:     uploadDoc + " The sound keeps its id and name: whatever plays it plays the new file.",
			upload:  true,
			resp:    response{status: http.StatusOK, typ: view, name: "Sound"},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				id, err := pathID(req)
				if err != nil {
					return err
				}
				file, _, err := readUpload(w, req)
				if err != nil {
					return err
				}
				defer file.Close()
				snd, err := s.svc.ReplaceSound(req.Context(), c.scope, id, file)
				if err != nil {
					return err
				}
				return writeJSON(w, http.StatusOK, snd)
			},
		},
		{
			method: http.MethodDelete, path: item, op: "deleteSound", tag: "sounds",
			summary: "Delete a sound (refused while something plays it)",
			resp:    response{status: http.StatusNoContent},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				id, err := pathID(req)
				if err != nil {
					return err
				}
				if err := s.svc.DeleteSound(req.Context(), c.scope, id); err != nil {
					return err
				}
				w.Header().Set("Cache-Control", "no-store")
				w.WriteHeader(http.StatusNoContent)
				return nil
			},
		},
	}
}

// uploadOverhead is what multipart framing and its small fields may add
// to the file's own limit.
const uploadOverhead = 64 << 10

// readUpload returns the uploaded file of a request (its body, or the
// part named file of a multipart form, with the form's other fields).
// The body is bounded a little above the sound limit, so an endless body
// is cut, and the decoder refuses the file itself past its limit.
func readUpload(w http.ResponseWriter, req *http.Request) (io.ReadCloser, map[string]string, error) {
	limit := provisioning.SoundLimits.MaxBytes + uploadOverhead
	req.Body = http.MaxBytesReader(w, req.Body, limit)
	ct, params, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if err != nil {
		return nil, nil, unsupportedUpload()
	}
	if ct != "multipart/form-data" {
		for _, m := range uploadMedia {
			if ct == m {
				return tooLargeBody{req.Body}, nil, nil
			}
		}
		return nil, nil, unsupportedUpload()
	}
	if params["boundary"] == "" {
		return nil, nil, &apiError{Status: http.StatusBadRequest, Code: codeMalformedBody, Message: "multipart/form-data without a boundary"}
	}
	if err := req.ParseMultipartForm(1 << 20); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, nil, provisioning.TooLarge("file", "is larger than %d MiB", provisioning.SoundLimits.MaxBytes>>20)
		}
		return nil, nil, &apiError{Status: http.StatusBadRequest, Code: codeMalformedBody, Message: "multipart/form-data: " + err.Error()}
	}
	fields := map[string]string{}
	for k, v := range req.MultipartForm.Value {
		if len(v) > 0 {
			fields[k] = v[0]
		}
	}
	fhs := req.MultipartForm.File["file"]
	if len(fhs) != 1 {
		_ = req.MultipartForm.RemoveAll()
		return nil, nil, provisioning.Invalid("file", "is required: one multipart part named file")
	}
	f, err := fhs[0].Open()
	if err != nil {
		_ = req.MultipartForm.RemoveAll()
		return nil, nil, err
	}
	return formFile{f, req}, fields, nil
}

// tooLargeBody turns the body limit's error into a 413 on file.
type tooLargeBody struct{ io.ReadCloser }

func (b tooLargeBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		err = provisioning.TooLarge("file", "is larger than %d MiB", provisioning.SoundLimits.MaxBytes>>20)
	}
	return n, err
}

// formFile removes the form's temporary files when closed.
type formFile struct {
	io.ReadCloser
	req *http.Request
}

func (f formFile) Close() error {
	err := f.ReadCloser.Close()
	_ = f.req.MultipartForm.RemoveAll()
	return err
}

func unsupportedUpload() error {
	return &apiError{Status: http.StatusUnsupportedMediaType, Code: codeUnsupportedMedia,
		Message: "the body must be the audio file (" + strings.Join(uploadMedia, ", ") + ") or multipart/form-data with a part named file"}
}
