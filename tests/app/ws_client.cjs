// Node.js's ws (npm, installed in tools/contract) against a keel WebSocket echo endpoint:
// text, binary, a compressed 200 KB message, a fragmented one, ping/pong, and the close code.
//   NODE_PATH=tools/contract/node_modules node tests/app/ws_client.cjs ws://127.0.0.1:PORT/ws/echo
const WebSocket = require("ws");

const ws = new WebSocket(process.argv[2], { perMessageDeflate: true });
const replies = [];
let waiting = null;
ws.on("message", (data, isBinary) => {
  replies.push({ data, isBinary });
  if (waiting) waiting();
});
const next = () =>
  new Promise((resolve) => {
    if (replies.length) return resolve(replies.shift());
    waiting = () => {
      waiting = null;
      resolve(replies.shift());
    };
  });

ws.on("open", async () => {
  ws.send("hello from node");
  let r = await next();
  console.log("text", r.data.toString(), r.isBinary);
  ws.send(Buffer.from([1, 2, 3]));
  r = await next();
  console.log("binary", r.data.toString("hex"), r.isBinary);
  const big = "y".repeat(200000);
  ws.send(big);
  r = await next();
  console.log("big", r.data.toString() === big);
  ws.send("frag", { fin: false });
  ws.send("ment", { fin: false });
  ws.send("ed", { fin: true });
  r = await next();
  console.log("fragmented", r.data.toString());
  ws.once("pong", (data) => {
    console.log("pong", data.toString());
    console.log("extensions", ws.extensions);
    ws.close(4001, "done");
  });
  ws.ping("ping?");
});
ws.on("close", (code, reason) => console.log("closed", code, reason.toString()));
ws.on("error", (e) => {
  console.log("error", e.message);
  process.exit(1);
});
