// Live parts of the pages: the notification bell (server-sent events) and posting states.
(function () {
  const body = document.body;
  const token = body.dataset.streamToken;
  if (!token) return;

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
    link.href = event.kind === "suggestion.review" ? "/desk" : "/app/suggestions/" + payload.suggestion_id;
    link.textContent = (texts[event.kind] || event.kind) + ": " + ((payload.need || {}).title || "");
    item.appendChild(link);
    list.prepend(item);
    if (!event.read_at) unread += 1;
    count.textContent = String(unread);
    count.toggleAttribute("data-zero", unread === 0);
  }

  // Opening the bell marks what it shows as read.
  document.getElementById("bell").addEventListener("toggle", (e) => {
    if (!e.target.open) return;
    shown.filter((n) => !n.read_at).forEach((n) => {
      n.read_at = "now";
      fetch("/api/v1/notifications/" + n.id + "/read", { method: "POST", headers: { Authorization: "Bearer " + token } });
    });
    unread = 0;
    count.textContent = "0";
    count.setAttribute("data-zero", "");
  });

  fetch("/api/v1/notifications?limit=20", { headers: { Authorization: "Bearer " + token } })
    .then((r) => (r.ok ? r.json() : []))
    .then((items) => {
      items.reverse().forEach(show);
      const stream = new EventSource("/api/v1/notifications/stream?access_token=" + encodeURIComponent(token));
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
      fetch("/api/v1/postings/" + card.dataset.posting, { headers: { Authorization: "Bearer " + token } })
        .then((r) => r.json())
        .then((posting) => {
          card.dataset.state = posting.pipeline_state;
          card.querySelector(".state").textContent = states[posting.pipeline_state] || posting.pipeline_state;
          if (posting.pipeline_state === "matched" || posting.pipeline_state === "failed") clearInterval(timer);
        });
    }, 1500);
  });
})();
