// Certificate sign-in: the PKCS#12 file is read and used here, in the browser; only the
// certificate and a signature over the server's nonce are sent. RSA keys sign with node-forge
// (PKCS#1 v1.5, SHA-256); EC keys are handed to WebCrypto (ECDSA P-256, r||s signature).
(function () {
  "use strict";
  var form = document.getElementById("cert-form");
  if (!form) { return; }
  var status = document.getElementById("cert-status");

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }
  function postJson(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (j) { if (!r.ok) { throw new Error(j.detail || r.status); } return j; });
    });
  }
  function readFile(file) {
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onload = function () { resolve(reader.result); };
      reader.onerror = function () { reject(reader.error); };
      reader.readAsArrayBuffer(file);
    });
  }
  function bytesToBinary(buffer) {
    var bytes = new Uint8Array(buffer), out = "";
    for (var i = 0; i < bytes.length; i++) { out += String.fromCharCode(bytes[i]); }
    return out;
  }
  function binaryToBytes(binary) {
    var out = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { out[i] = binary.charCodeAt(i) & 0xff; }
    return out;
  }
  function open(buffer, password) {
    var der = forge.util.createBuffer(bytesToBinary(buffer));
    var p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(der), false, password);
    var keyBags = p12.getBags({ bagType: forge.pki.oids.pkcs8ShroudedKeyBag })[forge.pki.oids.pkcs8ShroudedKeyBag] || [];
    var certBags = p12.getBags({ bagType: forge.pki.oids.certBag })[forge.pki.oids.certBag] || [];
    if (!keyBags.length || !certBags.length) { throw new Error("no key"); }
    var keyBag = keyBags[0];
    // The end-entity certificate is the one whose localKeyId matches the key's (else the first).
    var keyId = keyBag.attributes.localKeyId && keyBag.attributes.localKeyId[0];
    var certBag = certBags.filter(function (b) {
      return keyId && b.attributes.localKeyId && b.attributes.localKeyId[0] === keyId;
    })[0] || certBags[0];
    var certDer = certBag.asn1 ? forge.asn1.toDer(certBag.asn1).getBytes()
      : forge.asn1.toDer(forge.pki.certificateToAsn1(certBag.cert)).getBytes();
    return { keyBag: keyBag, certB64: forge.util.encode64(certDer) };
  }
  function sign(keyBag, message) {
    if (keyBag.key) {
      var md = forge.md.sha256.create();
      md.update(message, "utf8");
      return Promise.resolve(forge.util.encode64(keyBag.key.sign(md)));
    }
    var pkcs8 = binaryToBytes(forge.asn1.toDer(keyBag.asn1).getBytes());
    return crypto.subtle.importKey("pkcs8", pkcs8, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"])
      .then(function (key) {
        return crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, new TextEncoder().encode(message));
      })
      .then(function (sig) { return forge.util.encode64(bytesToBinary(sig)); });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    status.textContent = "";
    var file = document.getElementById("f-p12").files[0];
    var password = document.getElementById("f-p12pw").value;
    if (!file) { return; }
    var opened;
    readFile(file).then(function (buffer) {
      try { opened = open(buffer, password); } catch (e) { throw new Error(form.dataset.msgNokey); }
      return postJson("/api/auth/challenge", {});
    }).then(function (challenge) {
      return sign(opened.keyBag, challenge.message).then(function (signature) {
        return postJson("/api/auth/certificate", {
          nonce: challenge.nonce, certificate: opened.certB64, signature: signature, kind: "browser"
        });
      });
    }).then(function () {
      window.location.assign(form.dataset.next || "/");
    }).catch(function (e) {
      status.textContent = form.dataset.msgFailed + " " + e.message;
    });
  });
})();
