// Live parts of the pages: the notification bell (server-sent events) and posting states.
(function () {
  const body = document.body;
  if (!("live" in body.dataset)) return;
  // Same-origin calls carry the HttpOnly session cookie; no session secret is in the page or a URL.
  // Changes also send the page's CSRF token, as forms do.
  const csrf = { "X-CSRF-Token": body.dataset.csrf };

  const count = document.getElementById("bell-count");
  const list = document.getElementById("bell-list");
  const texts = {};
  document.querySelectorAll("#notice-texts span").forEach((s) => { texts[s.dataset.kind] = s.textContent.trim(); });
  let unread = 0;
  const shown = [];

  function show(event) {
    shown.push(event);
    const empty = list.querySelector(".empty");
    if (empty) empty.remove();
    const item = document.createElement("li");
    const link = document.createElement("a");
    const payload = event.payload || {};
    // Calls and consortia name their own page (payload.path); suggestions have theirs.
    link.href = payload.path || (event.kind === "suggestion.review" ? "/desk" : "/app/suggestions/" + payload.suggestion_id);
    link.textContent = (texts[event.kind] || event.kind) + ": " + ((payload.need || {}).title || payload.title || "");
    item.appendChild(link);
    list.prepend(item);
    if (!event.read_at) unread += 1;
    count.textContent = String(unread);
    count.toggleAttribute("data-zero", unread === 0);
  }

  // Opening the bell marks what it shows as read. keepalive: a click on one of its links right
  // away leaves the page, which would otherwise cancel these requests (and leave them unread).
  document.getElementById("bell").addEventListener("toggle", (e) => {
    if (!e.target.open) return;
    shown.filter((n) => !n.read_at).forEach((n) => {
      n.read_at = "now";
      fetch("/api/v1/notifications/" + n.id + "/read", {
        method: "POST",
        headers: csrf,
        credentials: "same-origin",
        keepalive: true,
      });
    });
    unread = 0;
    count.textContent = "0";
    count.setAttribute("data-zero", "");
  });

  fetch("/api/v1/notifications?limit=20", { credentials: "same-origin" })
    .then((r) => (r.ok ? r.json() : []))
    .then((items) => {
      items.reverse().forEach(show);
      const stream = new EventSource("/api/v1/notifications/stream");
      const seen = new Set(items.map((n) => n.id));
      stream.addEventListener("notification", (message) => {
        const event = JSON.parse(message.data);
        if (!seen.has(event.id)) { seen.add(event.id); show(event); }
      });
    });

  // Postings still in the pipeline: ask for their state until they are matched.
  const states = {};
  document.querySelectorAll("#state-texts span").forEach((s) => { states[s.dataset.state] = s.textContent; });
  document.querySelectorAll("[data-posting]").forEach((card) => {
    if (card.dataset.state === "matched" || card.dataset.state === "failed") return;
    const timer = setInterval(() => {
      fetch("/api/v1/postings/" + card.dataset.posting, { credentials: "same-origin" })
        .then((r) => r.json())
        .then((posting) => {
          card.dataset.state = posting.pipeline_state;
          card.querySelector(".state").textContent = states[posting.pipeline_state] || posting.pipeline_state;
          if (posting.pipeline_state === "matched" || posting.pipeline_state === "failed") clearInterval(timer);
        });
    }, 1500);
  });
})();

// Review desk from the keyboard: j/k move between suggestions, x selects, a approves the
// selected ones, r goes to the note (a rejection needs one).
(function () {
  const form = document.getElementById("review-form");
  if (!form) return;
  const cards = Array.from(form.querySelectorAll("article.review"));
  let current = -1;
  function focus(index) {
    current = Math.max(0, Math.min(cards.length - 1, index));
    cards.forEach((card, i) => card.classList.toggle("current", i === current));
    cards[current].focus();
  }
  cards.forEach((card) => card.setAttribute("tabindex", "-1"));
  document.addEventListener("keydown", (e) => {
    if (e.target.matches("input[type=text], input:not([type]), textarea") || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "j") focus(current + 1);
    else if (e.key === "k") focus(current - 1);
    else if (e.key === "x" && current >= 0) cards[current].querySelector("input[name=ids]").click();
    else if (e.key === "a") form.querySelector("button[value=approve]").click();
    else if (e.key === "r") { e.preventDefault(); form.querySelector("input[name=note]").focus(); }
    else return;
  });
})();

// Password reset: the link's secret comes in its #fragment (never sent to a server nor logged);
// move it into the form and out of the address bar.
(function () {
  const form = document.getElementById("reset-form");
  if (!form || !location.hash) return;
  form.querySelector("input[name=token]").value = decodeURIComponent(location.hash.slice(1));
  history.replaceState(null, "", location.pathname);
})();

// Dashboard bars: their length comes as data-width (percent), since the page's CSP allows no
// inline style attribute; styles set from a same-origin script are allowed.
document.querySelectorAll(".bar[data-width]").forEach((bar) => { bar.style.width = bar.dataset.width + "%"; });
