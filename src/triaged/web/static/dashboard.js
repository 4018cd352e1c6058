// The routing panel's what-if: moving a threshold slider asks the server (same origin,
// the session cookie) what the window's decisions would have done, and shows the
// predicted bucket shares and the auto lane's error with its interval.  Without
// script the same form is a plain GET that renders the same figures.
(function () {
  "use strict";
  var form = document.getElementById("what-if-form");
  if (!form) { return; }
  var endpoint = form.getAttribute("data-endpoint");
  var auto = document.getElementById("wi-auto");
  var review = document.getElementById("wi-review");
  var status = document.getElementById("wi-status");
  var result = document.getElementById("wi-result");
  var BAR_WIDTH = 600;
  var BUCKETS = ["auto", "review", "hold"];
  var sent = 0;
  var timer = null;

  function pct(v, digits) {
    if (v === null || v === undefined) { return "\u2014"; }
    return (100 * v).toFixed(digits === undefined ? 1 : digits) + "%";
  }

  function text(id, value) { document.getElementById(id).textContent = value; }

  function outputs() {
    text("wi-auto-value", Number(auto.value).toFixed(3));
    text("wi-review-value", Number(review.value).toFixed(3));
  }

  function show(data) {
    var x = 0;
    BUCKETS.forEach(function (b) {
      var share = data.shares ? data.shares[b] : null;  // null: no decisions in the window
      var cell = document.getElementById("wi-share-" + b);
      cell.textContent = pct(share);
      cell.setAttribute("data-value", share === null || share === undefined ? "" : String(share));
      var rect = document.querySelector('#wi-bar rect[data-bucket="' + b + '"]');
      var width = BAR_WIDTH * (share || 0);
      rect.setAttribute("x", x.toFixed(1));
      rect.setAttribute("width", width.toFixed(1));
      x += width;
    });
    var err = data.auto_error || {};
    var estimate = document.getElementById("wi-error");
    estimate.textContent = pct(err.estimate);
    estimate.setAttribute("data-value", err.estimate === null || err.estimate === undefined ? "" : String(err.estimate));
    var interval = document.getElementById("wi-interval");
    interval.textContent = pct(err.lower) + " \u2013 " + pct(err.upper);
    interval.setAttribute("data-lower", err.lower === null || err.lower === undefined ? "" : String(err.lower));
    interval.setAttribute("data-upper", err.upper === null || err.upper === undefined ? "" : String(err.upper));
    text("wi-reviewed", String(err.n_reviewed || 0));
    text("wi-effective", Math.round(err.effective_n || 0).toString());
    text("wi-n", String(data.n_decisions || 0));
    result.setAttribute("data-n", String(data.n_decisions || 0));
    result.setAttribute("data-auto", String(data.auto));
    result.setAttribute("data-review", String(data.review));
    result.removeAttribute("data-stale");
    status.hidden = true;
  }

  // the figures on show are for other thresholds now: greyed out, and a session that ended
  // gets a link to sign in again (the old shares stayed beside the new slider values)
  function fail(message, signedOut) {
    status.textContent = message;
    if (signedOut) {
      var link = document.createElement("a");
      link.href = "/ui/login?next=" + encodeURIComponent(location.pathname + location.search);
      link.textContent = "Sign in again";
      status.appendChild(document.createTextNode(" "));
      status.appendChild(link);
    }
    result.setAttribute("data-stale", "true");
    status.hidden = false;
  }

  function ask() {
    var params = new URLSearchParams(new FormData(form));
    var mine = ++sent;
    result.setAttribute("aria-busy", "true");
    fetch(endpoint + "?" + params.toString(), {
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      return response.json().then(function (body) {
        return { ok: response.ok, status: response.status, body: body };
      });
    }).then(function (reply) {
      if (mine !== sent) { return; }  // a newer question is on its way
      result.removeAttribute("aria-busy");
      if (reply.ok) { show(reply.body); } else {
        fail((reply.body.error && reply.body.error.message) || "what-if failed", reply.status === 401);
      }
    }).catch(function () {
      if (mine !== sent) { return; }
      result.removeAttribute("aria-busy");
      fail("The server did not answer; try again.");
    });
  }

  function changed(event) {
    // the review threshold never lies above the auto one: move the other slider along
    if (Number(review.value) > Number(auto.value)) {
      if (event.target === auto) { review.value = auto.value; } else { auto.value = review.value; }
    }
    outputs();
    if (timer !== null) { clearTimeout(timer); }
    timer = setTimeout(ask, 150);
  }

  auto.addEventListener("input", changed);
  review.addEventListener("input", changed);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    ask();
  });
})();
