// pilmon dashboard: the only script, served from this origin (CSP script-src 'self'). It never
// builds HTML from data: everything from the server is set with textContent.
'use strict';
document.addEventListener('DOMContentLoaded', function () {
  var all = document.querySelector('input.select-all');
  if (all) {
    all.addEventListener('change', function () {
      document.querySelectorAll('input[name="fp"][form="bulk"]').forEach(function (b) { b.checked = all.checked; });
    });
  }
  // The bulk form's reason and confirmation concern a dismissal only.
  var bulk = document.getElementById('bulk');
  if (bulk) {
    var to = bulk.querySelector('select[name="to"]');
    var only = bulk.querySelector('.dismiss-only');
    if (to && only) {
      var sync = function () {
        var d = to.value === 'dismissed';
        only.hidden = !d;
        var r = only.querySelector('select[name="reason"]');
        if (r) { r.required = d; }
      };
      to.addEventListener('change', sync);
      sync();
    }
  }
  var exp = document.getElementById('export');
  if (exp) {
    exp.addEventListener('submit', function (ev) {
      exp.querySelectorAll('input.sel').forEach(function (i) { i.remove(); });
      var n = 0;
      document.querySelectorAll('input[name="fp"][form="bulk"]:checked').forEach(function (b) {
        var i = document.createElement('input');
        i.type = 'hidden'; i.name = 'fp'; i.value = b.value; i.className = 'sel';
        exp.appendChild(i); n++;
      });
      if (n === 0) { ev.preventDefault(); }
    });
  }
  var table = document.getElementById('events');
  if (table) {
    var after = table.getAttribute('data-after') || '0-0';
    var body = table.querySelector('tbody');
    var poll = function () {
      fetch('/progress/events?after=' + encodeURIComponent(after), { credentials: 'same-origin', headers: { 'Accept': 'application/json' } })
        .then(function (r) { return r.ok ? r.json() : []; })
        .then(function (evs) {
          if (!Array.isArray(evs)) { return; }
          evs.forEach(function (e) {
            after = e.id;
            var empty = body.querySelector('tr.empty');
            if (empty) { empty.remove(); }
            var tr = document.createElement('tr');
            tr.className = 'new';
            [e.at, e.kind, e.target, e.scan, e.message].forEach(function (v, k) {
              var td = document.createElement('td');
              if (k === 1 || k === 3) { var c = document.createElement('code'); c.textContent = v || ''; td.appendChild(c); }
              else { td.textContent = v || ''; }
              tr.appendChild(td);
            });
            body.insertBefore(tr, body.firstChild);
          });
        })
        .catch(function () {})
        .finally(function () { setTimeout(poll, 2000); });
    };
    setTimeout(poll, 2000);
  }
});
