// Package webui is hmd's management console in a browser: the seed's
// management-station pages (the appliances list, "Configure High
// Availability Parameters", "Current High Availability Status" with its
// events log, the N:1 view, the License Summary and the recovering
// primary's restore from its secondary) rendered on the server with
// html/template, plus a small script that polls for live status.
//
// It is mounted under /ui/ on hmd's TLS server on the health-monitor
// address and authenticates with the same Authenticator as the API (the
// appliance password): a login form or HTTP basic authentication opens a
// session cookie, and every form post must carry the session's CSRF token.
// Every operation goes to the same api.Backend the API calls, and pairing
// input goes through the API's own decoder, so the UI has no checks of its
// own to drift from the API's.
package webui

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hafw/hafw/hmd/api"
	"github.com/hafw/hafw/internal/humantime"
	"github.com/hafw/hafw/licensing"
)

// Prefix is where the console is mounted.
const Prefix = "/ui/"

// maxLicense bounds an uploaded license file; real ones are a few hundred
// bytes.
const maxLicense = 64 << 10

// eventsShown is how many events the status page lists.
const eventsShown = 50

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Licenses is this appliance's license store, for the activation status
// and the license upload the seed asks for before a virtual secondary can
// be paired.
type Licenses interface {
	Activated() (bool, error)
	// Install verifies and installs a license file.
	Install(data []byte) (licensing.License, error)
	// List is every installed license file as verified now (License
	// Summary).
	List() ([]licensing.Installed, error)
	// Summary is the seed's per-service table of the valid licenses
	// against the platform's limits (no services when the identity is
	// unknown).
	Summary() (licensing.Summary, error)
}

// Options configure the console.
type Options struct {
	Backend api.Backend
	// Auth is the API's authenticator; the login form checks the password
	// through it so both share one password check.
	Auth api.Authenticator
	// Licenses may be nil: the upload form is then not offered.
	Licenses Licenses
	Log      *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Server is the console's http.Handler.
type Server struct {
	opt      Options
	log      *slog.Logger
	sessions *sessions
	pages    map[string]*template.Template
	mux      *http.ServeMux
}

// New parses the embedded templates and builds the routes.
func New(opt Options) (*Server, error) {
	if opt.Backend == nil || opt.Auth == nil {
		return nil, errors.New("webui: Backend and Auth are required")
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	funcs := template.FuncMap{"fields": pairForm, "settingsFields": settingsForm, "input": newInput, "title": title, "op": newOpButton, "rfc3339": humantime.RFC3339}
	// The License Summary and Recovery forms.
	funcs["secondaryFields"], funcs["recoveryFields"] = secondaryFields, recoveryFields
	s := &Server{opt: opt, log: opt.Log, sessions: newSessions(opt.Now), pages: map[string]*template.Template{}}
	for _, name := range []string{"login", "appliances", "ha", "status", "n1", "traps", "logs", "firmware", "licenses", "recovery"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse the %s page: %w", name, err)
		}
		s.pages[name] = t
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("static assets: %w", err)
	}
	m := http.NewServeMux()
	m.Handle("GET /ui/static/", http.StripPrefix("/ui/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /ui/login", s.loginPage)
	m.HandleFunc("POST /ui/login", s.login)
	m.HandleFunc("POST /ui/logout", s.post(s.logout))
	m.HandleFunc("GET /ui/{$}", s.page(s.appliances))
	m.HandleFunc("GET /ui/ha", s.page(s.haPage))
	m.HandleFunc("GET /ui/status", s.page(s.statusPage))
	m.HandleFunc("GET /ui/n1", s.page(s.n1Page))
	m.HandleFunc("GET /ui/live", s.liveJSON)
	m.HandleFunc("POST /ui/ha/pair", s.post(s.pair))
	m.HandleFunc("POST /ui/ha/inspect", s.post(s.inspect))
	m.HandleFunc("POST /ui/ha/settings", s.post(s.settings))
	m.HandleFunc("POST /ui/ha/secondary-license", s.post(s.secondaryLicense))
	m.HandleFunc("POST /ui/ha/switchover", s.post(s.operation("Switchover", api.Backend.Switchover, "")))
	m.HandleFunc("POST /ui/ha/failback", s.post(s.operation("Failback", api.Backend.Failback, "")))
	m.HandleFunc("POST /ui/ha/delete", s.post(s.operation("Delete", api.Backend.Unpair, "/ui/ha")))
	m.HandleFunc("POST /ui/license", s.post(s.license))
	m.HandleFunc("GET /ui/licenses", s.page(s.licensesPage))
	m.HandleFunc("POST /ui/licenses/inspect", s.post(s.licensesInspect))
	m.HandleFunc("POST /ui/licenses/deactivate", s.post(s.licensesDeactivate))
	m.HandleFunc("GET /ui/recovery", s.page(s.recoveryPage))
	m.HandleFunc("POST /ui/recovery/inspect", s.post(s.recoveryInspect))
	m.HandleFunc("POST /ui/recovery/restore", s.post(s.recoveryRestore))
	m.HandleFunc("GET /ui/traps", s.page(s.trapsPage))
	m.HandleFunc("GET /ui/logs", s.page(s.logsPage))
	m.HandleFunc("POST /ui/traps/add", s.post(s.trapAdd))
	m.HandleFunc("POST /ui/traps/delete", s.post(s.trapDelete))
	m.HandleFunc("POST /ui/traps/test", s.post(s.trapTest))
	m.HandleFunc("GET /ui/firmware", s.page(s.firmwarePage))
	m.HandleFunc("POST /ui/firmware/upgrade", s.firmwareUpgrade)
	s.mux = m
	return s, nil
}

// ServeHTTP implements http.Handler with headers that keep the console out
// of frames and caches and allow only its own script and style.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(w, r)
}

const cookieName = "hafw_session"

// EndSessions logs every browser out: after a password change, a session
// opened with the old password must not outlive it.
func (s *Server) EndSessions() { s.sessions.clear() }

// Sessions lists the logged-in browsers (api.SessionsBackend) without
// their tokens.
func (s *Server) Sessions() []api.Session { return s.sessions.list() }

// view is what every page template gets.
type view struct {
	Title    string
	Nav      string
	CSRF     string
	Flash    string
	FlashErr bool
	Self     api.Status
	Body     any
}

// current is the request's session: its id and CSRF token.
type current struct {
	id, csrf string
}

// authenticate finds the session of r, or accepts r without a session when
// it carries the appliance password by HTTP basic authentication (scripts,
// curl). Basic auth opens no session: a script polling every few seconds
// would otherwise fill the bounded table and evict the operator's browser.
// Without a session there is no CSRF token, so basic auth alone can read
// pages but not post forms.
func (s *Server) authenticate(_ http.ResponseWriter, r *http.Request) (current, bool) {
	if c, err := r.Cookie(cookieName); err == nil {
		if csrf, ok := s.sessions.touch(c.Value); ok {
			return current{id: c.Value, csrf: csrf}, true
		}
	}
	if _, _, ok := r.BasicAuth(); ok && s.opt.Auth.Authenticate(r).Admin {
		return current{}, true
	}
	return current{}, false
}

// open starts a session for r's client and sets its cookie: HttpOnly,
// Secure (the console is only served over TLS) and SameSite=Strict, so
// another site's page cannot post with it even before the CSRF check.
func (s *Server) open(w http.ResponseWriter, r *http.Request) (current, bool) {
	id, err := s.sessions.create(clientIP(r))
	if err != nil {
		s.log.Error("open console session", "err", err)
		http.Error(w, "cannot open a session", http.StatusInternalServerError)
		return current{}, false
	}
	csrf, _ := s.sessions.touch(id)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: Prefix, HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode, MaxAge: int(SessionIdle.Seconds())})
	return current{id: id, csrf: csrf}, true
}

// clientIP is r's source address without the port, IPv4-mapped IPv6
// folded; the whole RemoteAddr when it is not an address and port.
func clientIP(r *http.Request) string {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return ap.Addr().Unmap().String()
}

// page wraps a GET page: without a session the browser goes to the login
// form, which brings it back afterwards.
func (s *Server) page(next func(http.ResponseWriter, *http.Request, current)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cur, ok := s.authenticate(w, r)
		if !ok {
			http.Redirect(w, r, "/ui/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		next(w, r, cur)
	}
}

// post wraps a form post: it needs a session and the session's CSRF token.
func (s *Server) post(next func(http.ResponseWriter, *http.Request, current)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cur, ok := s.authenticate(w, r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="hafw"`)
			http.Error(w, "authentication required: log in with the appliance password", http.StatusUnauthorized)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxLicense+4096)
		var err error
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
			err = r.ParseMultipartForm(maxLicense + 4096)
		} else {
			err = r.ParseForm()
		}
		if err != nil {
			http.Error(w, "the form could not be read: "+err.Error(), http.StatusBadRequest)
			return
		}
		if !s.sessions.checkCSRF(cur.id, r.PostForm.Get("csrf")) {
			http.Error(w, "the form is stale or was not sent by this console (CSRF token mismatch); reload the page and try again", http.StatusForbidden)
			return
		}
		next(w, r, cur)
	}
}

// render executes the page into memory first, so that a template error is
// a clean 500 and not half a page.
func (s *Server) render(w http.ResponseWriter, code int, name string, v view) {
	var buf bytes.Buffer
	if err := s.pages[name].Execute(&buf, v); err != nil {
		s.fail(w, fmt.Errorf("render the %s page: %w", name, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	if _, err := buf.WriteTo(w); err != nil {
		s.log.Debug("write console page", "page", name, "err", err)
	}
}

// baseView fills the parts every page shows, consuming the flash message.
func (s *Server) baseView(r *http.Request, cur current, title, nav string) (view, error) {
	st, err := s.opt.Backend.Status(r.Context())
	if err != nil {
		return view{}, fmt.Errorf("read the HA status: %w", err)
	}
	v := view{Title: title, Nav: nav, CSRF: cur.csrf, Self: st}
	v.Flash, v.FlashErr = s.sessions.takeFlash(cur.id)
	return v, nil
}

func (s *Server) fail(w http.ResponseWriter, err error) {
	s.log.Error("console page failed", "err", err)
	http.Error(w, err.Error(), http.StatusInternalServerError)
}

// redirect sends the browser to path after a post (post/redirect/get), with
// msg shown once on the next page.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, cur current, path, msg string, isErr bool) {
	s.sessions.setFlash(cur.id, msg, isErr)
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// loginData is the login page's form state.
type loginData struct {
	Next  string
	Error string
}

// safeNext keeps the post-login redirect inside the console.
func safeNext(next string) string {
	lower := strings.ToLower(next)
	if !strings.HasPrefix(next, Prefix) || strings.ContainsAny(next, "\\\r\n") || strings.Contains(lower, "..") || strings.Contains(lower, "%2e") {
		return Prefix
	}
	return next
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, http.StatusOK, "login", view{Title: "Log in", Body: loginData{Next: safeNext(r.URL.Query().Get("next"))}})
}

// login checks the password with the API's authenticator by presenting it
// as the API's basic credentials.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "the form could not be read", http.StatusBadRequest)
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	probe, err := http.NewRequestWithContext(r.Context(), http.MethodGet, Prefix, nil)
	if err != nil {
		s.fail(w, err)
		return
	}
	probe.SetBasicAuth(api.AdminUser, r.PostForm.Get("password"))
	probe.RemoteAddr, probe.TLS = r.RemoteAddr, r.TLS // the per-client limit applies
	c := s.opt.Auth.Authenticate(probe)
	if c.RetryAfter > 0 {
		s.log.Info("console login throttled", "remote", r.RemoteAddr)
		secs := int((c.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		s.render(w, http.StatusTooManyRequests, "login", view{Title: "Log in", Body: loginData{Next: next, Error: fmt.Sprintf("Too many wrong passwords from this address: try again in %d s.", secs)}})
		return
	}
	if !c.Admin {
		s.log.Info("console login refused", "remote", r.RemoteAddr)
		s.render(w, http.StatusUnauthorized, "login", view{Title: "Log in", Body: loginData{Next: next, Error: "The password is not this appliance's password."}})
		return
	}
	if _, ok := s.open(w, r); !ok {
		return
	}
	s.log.Info("console login", "remote", r.RemoteAddr)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, cur current) {
	s.sessions.delete(cur.id)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: Prefix, HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
}

// license installs an uploaded license file on this appliance.
func (s *Server) license(w http.ResponseWriter, r *http.Request, cur current) {
	if s.opt.Licenses == nil {
		s.redirect(w, r, cur, safeNext(r.PostForm.Get("back")), "License upload is not available on this appliance.", true)
		return
	}
	// The Appliances page and License Summary both post here; the answer
	// goes back to the page the form was on.
	back := safeNext(r.PostForm.Get("back"))
	f, _, err := r.FormFile("license")
	if err != nil {
		s.redirect(w, r, cur, back, "Choose a license file to upload.", true)
		return
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxLicense))
	if err != nil {
		s.redirect(w, r, cur, back, "The license file could not be read: "+err.Error(), true)
		return
	}
	l, err := s.opt.Licenses.Install(data)
	if err != nil {
		s.redirect(w, r, cur, back, err.Error(), true)
		return
	}
	s.log.Info("license installed from the console", "id", l.ID, "feature", l.Feature)
	s.redirect(w, r, cur, back, fmt.Sprintf("License %s (%s, count %d) installed.", l.ID, l.Feature.Label(), l.Count), false)
}
