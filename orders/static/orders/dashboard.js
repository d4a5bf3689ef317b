// The dashboard is a client like any other: the public REST API and the order stream, with the
// account's token (kept in this browser only).
"use strict";

const TERMINAL = ["confirmed", "failed", "cancelled", "expired"];
const tokenInput = document.getElementById("token");
const tokenState = document.getElementById("token-state");
let token = localStorage.getItem("engineToken") || "";
tokenInput.value = token;

function headers() {
  return { "Authorization": `Token ${token}`, "Content-Type": "application/json" };
}

function element(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  Object.entries(attributes).forEach(([name, value]) => node.setAttribute(name, value));
  node.textContent = text;
  return node;
}

document.getElementById("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  token = tokenInput.value.trim();
  localStorage.setItem("engineToken", token);
  tokenState.textContent = token ? "token set" : "";
  refreshRecent();
});

// Show only the fields of the chosen order type.
const typeSelect = document.getElementById("type");
function showFieldsOfType() {
  document.querySelectorAll("#order-form .limit, #order-form .sniper").forEach((label) => {
    label.hidden = !label.classList.contains(typeSelect.value);
  });
}
typeSelect.addEventListener("change", showFieldsOfType);
showFieldsOfType();

document.getElementById("order-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("order-error");
  error.textContent = "";
  const body = {};
  for (const [name, value] of new FormData(event.target)) {
    const label = event.target.elements[name].closest("label");
    if (value !== "" && !label.hidden) body[name] = name === "slippageBps" ? Number(value) : value;
  }
  const response = await fetch("/api/orders/execute", { method: "POST", headers: headers(), body: JSON.stringify(body) });
  const answer = await response.json();
  if (response.status !== 201) {
    error.textContent = Object.entries(answer).map(([field, messages]) => `${field}: ${[].concat(messages).join(" ")}`).join("; ");
    return;
  }
  follow(answer);
  refreshRecent();
});

function describe(message) {
  const data = message.data || {};
  if (message.status === "routing" && data.quotes) {
    const quotes = data.quotes.map((q) => `${q.venue} ${q.amountOut}`).join(", ");
    const route = data.route;
    if (!route) return `quotes: ${quotes}; chosen ${data.chosen}`;
    const legs = route.legs.map((leg) => `${leg.amountIn} ${leg.tokenIn} → ${leg.amountOut} ${leg.tokenOut} on ${leg.venue}` +
      ` (fee ${leg.fee}, impact ${(100 * leg.priceImpact).toFixed(3)}%)`).join("; ");
    const gain = route.gainBps === null ? "" : `, +${route.gainBps} bp over one venue`;
    return `quotes: ${quotes}; chosen ${data.chosen}: ${route.kind.replace("_", " ")}${gain}; ${legs}`;
  }
  if (message.status === "building") return `expect ${data.expectedAmountOut}, at least ${data.minAmountOut}`;
  if (message.status === "submitted") return `tx ${data.txHash}`;
  if (message.status === "confirmed") return `${data.amountOut} at ${data.executedPrice} on ${data.venue}`;
  if (message.status === "failed") return data.error || "";
  return "";
}

// Follows one order's stream, resuming after the last event seen if the socket drops.
function follow(order) {
  const card = element("div", { class: "timeline", "data-order": order.orderId });
  card.append(element("strong", {}, `${order.type} ${order.amount} ${order.tokenIn} → ${order.tokenOut}`), " ",
    element("code", {}, order.orderId));
  const list = element("ol");
  card.append(list);
  document.getElementById("timelines").prepend(card);
  let lastSeq = 0;
  const connect = () => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/orders/${order.orderId}/?after=${lastSeq}`, ["token", token]);
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.error) {
        list.append(element("li", { "data-status": "error" }, message.error.reason));
        return;
      }
      lastSeq = message.seq;
      const item = element("li", { "data-status": message.status }, `${message.status} `);
      item.append(element("span", { class: "detail" }, `${new Date(message.timestamp).toLocaleTimeString()} ${describe(message)}`));
      list.append(item);
      if (TERMINAL.includes(message.status)) refreshRecent();
    };
    socket.onclose = (event) => {
      const finished = [...list.children].some((item) => TERMINAL.includes(item.dataset.status));
      if (!finished && event.code !== 4401 && event.code !== 4404) setTimeout(connect, 1000);
    };
  };
  connect();
}

async function refreshRecent() {
  if (!token) return;
  const response = await fetch("/api/orders/?limit=20", { headers: headers() });
  if (!response.ok) return;
  const rows = (await response.json()).results.map((order) => {
    const row = element("tr", { "data-order": order.orderId });
    [order.orderId.slice(0, 8), order.type, `${order.tokenIn} → ${order.tokenOut}`, order.amount, order.status,
      order.venue || "", new Date(order.createdAt).toLocaleTimeString()].forEach((text) => row.append(element("td", {}, text)));
    return row;
  });
  document.querySelector("#recent tbody").replaceChildren(...rows);
}

refreshRecent();
setInterval(refreshRecent, 3000);
