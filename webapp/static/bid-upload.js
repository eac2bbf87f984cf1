// Resumable upload of a sealed envelope (数字信封) through the same API the CLI uses:
// POST .../uploads {size, sha256} -> PUT /api/uploads/{id}/parts/{n} (X-Content-SHA256) ->
// POST /api/uploads/{id}/complete -> the signed receipt. The upload id is kept in localStorage
// under the file's SHA-256, so after a dropped connection (or a reload, choosing the same file
// again) only the missing parts are sent. The envelope is already sealed: nothing here can read it.
(function () {
  "use strict";
  var form = document.getElementById("bid-upload");
  if (!form) { return; }
  var bar = document.getElementById("upload-progress");
  var status = document.getElementById("upload-status");
  var resume = document.getElementById("upload-resume");
  var result = document.getElementById("upload-receipt");
  var msg = form.dataset;
  var HASH_CHUNK = 4 * 1024 * 1024;
  var RETRIES = 2;

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }
  function api(method, url, body, headers) {
    var h = Object.assign({ "X-CSRF-Token": csrf(), "X-Tenderhall-Client": "tenderhall-web/1" }, headers || {});
    var init = { method: method, credentials: "same-origin", headers: h };
    if (body !== undefined) {
      if (body instanceof ArrayBuffer) { init.body = body; h["Content-Type"] = "application/octet-stream"; }
      else { init.body = JSON.stringify(body); h["Content-Type"] = "application/json"; }
    }
    return fetch(url, init).then(function (r) {
      return r.text().then(function (text) {
        var data = text ? JSON.parse(text) : null;
        if (!r.ok) { var e = new Error((data && data.detail) || String(r.status)); e.status = r.status; e.code = data && data.code; throw e; }
        return data;
      });
    });
  }
  function hex(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function say(text) { status.textContent = text; }
  function progress(done, total) { bar.max = total; bar.value = done; }

  // The whole file's SHA-256 in slices (node-forge keeps the running state; memory stays small).
  function fileSha256(file) {
    var md = forge.md.sha256.create();
    var offset = 0;
    function step() {
      if (offset >= file.size) { return Promise.resolve(md.digest().toHex()); }
      return file.slice(offset, offset + HASH_CHUNK).arrayBuffer().then(function (buf) {
        var bytes = new Uint8Array(buf), binary = "";
        for (var i = 0; i < bytes.length; i += 8192) {
          binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192));
        }
        md.update(binary);
        offset += buf.byteLength;
        progress(offset, file.size);
        return step();
      });
    }
    return step();
  }

  function start(file, sha) {
    var key = "th-upload:" + form.dataset.tender + ":" + form.elements.lot.value + ":" + sha;
    var known = localStorage.getItem(key);
    var session = known
      ? api("GET", "/api/uploads/" + known).catch(function () { localStorage.removeItem(key); return null; })
      : Promise.resolve(null);
    return session.then(function (existing) {
      if (existing) { return existing; }
      var url = "/api/tenders/" + form.dataset.tender + "/lots/" + form.elements.lot.value + "/uploads";
      return api("POST", url, { size: file.size, sha256: sha }).then(function (created) {
        localStorage.setItem(key, created.upload_id);
        return created;
      });
    }).then(function (upload) { upload.key = key; return upload; });
  }

  function sendPart(upload, file, number, attempt) {
    var from = (number - 1) * upload.chunk_size;
    return file.slice(from, Math.min(from + upload.chunk_size, file.size)).arrayBuffer().then(function (buf) {
      return crypto.subtle.digest("SHA-256", buf).then(function (digest) {
        return api("PUT", "/api/uploads/" + upload.upload_id + "/parts/" + number, buf, { "X-Content-SHA256": hex(digest) });
      });
    }).catch(function (e) {
      if (e.status || attempt >= RETRIES) { throw e; }
      return new Promise(function (r) { setTimeout(r, 500 * (attempt + 1)); }).then(function () {
        return sendPart(upload, file, number, attempt + 1);
      });
    });
  }

  function run() {
    var file = form.elements.envelope.files[0];
    if (!file) { say(msg.msgChoose); return; }
    resume.hidden = true;
    result.hidden = true;
    say(msg.msgHashing);
    fileSha256(file).then(function (sha) {
      return start(file, sha);
    }).then(function (upload) {
      var total = Math.max(1, Math.ceil(file.size / upload.chunk_size));
      var have = {};
      (upload.parts || []).forEach(function (p) { have[p.number] = true; });
      var sent = Object.keys(have).length;
      progress(sent, total);
      say(sent ? msg.msgResuming : msg.msgUploading);
      var chain = Promise.resolve();
      for (var n = 1; n <= total; n++) {
        if (have[n]) { continue; }
        (function (number) {
          chain = chain.then(function () { return sendPart(upload, file, number, 0); }).then(function () {
            sent += 1;
            progress(sent, total);
          });
        })(n);
      }
      return chain.then(function () {
        say(msg.msgCompleting);
        return api("POST", "/api/uploads/" + upload.upload_id + "/complete");
      }).then(function (receipt) {
        localStorage.removeItem(upload.key);
        show(receipt);
      });
    }).catch(function (e) {
      say(msg.msgFailed + " " + e.message);
      resume.hidden = false;
    });
  }

  function show(receipt) {
    var r = receipt.receipt;
    document.getElementById("receipt-time").textContent = r.received_at;
    document.getElementById("receipt-sha").textContent = r.envelope_sha256;
    document.getElementById("receipt-id").textContent = r.receipt_id;
    var link = document.getElementById("receipt-download");
    link.href = "/bidder/receipts/" + r.receipt_id + "/download";
    result.hidden = false;
    say(msg.msgDone);
  }

  form.addEventListener("submit", function (event) { event.preventDefault(); run(); });
  resume.addEventListener("click", function () { run(); });
})();
