// Regie: the one script of the resident app. It runs the WebAuthn call that signs up, signs
// in or confirms with a passkey, and posts the browser's answer as an ordinary form field.
// Everything else in the app works without JavaScript.
"use strict";

(function () {
  function b64urlToBytes(value) {
    const pad = "=".repeat((4 - (value.length % 4)) % 4);
    const text = atob((value + pad).replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(text, (c) => c.charCodeAt(0));
  }

  function bytesToB64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let text = "";
    bytes.forEach((b) => { text += String.fromCharCode(b); });
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // WebAuthn Level 3 has parse*FromJSON and toJSON; older browsers need the same by hand.
  function creationOptions(json) {
    if (window.PublicKeyCredential && PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    const options = Object.assign({}, json);
    options.challenge = b64urlToBytes(json.challenge);
    options.user = Object.assign({}, json.user, { id: b64urlToBytes(json.user.id) });
    options.excludeCredentials = (json.excludeCredentials || []).map((c) =>
      Object.assign({}, c, { id: b64urlToBytes(c.id) }));
    return options;
  }

  function requestOptions(json) {
    if (window.PublicKeyCredential && PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    const options = Object.assign({}, json);
    options.challenge = b64urlToBytes(json.challenge);
    options.allowCredentials = (json.allowCredentials || []).map((c) =>
      Object.assign({}, c, { id: b64urlToBytes(c.id) }));
    return options;
  }

  function credentialJSON(credential) {
    if (typeof credential.toJSON === "function") {
      return credential.toJSON();
    }
    const r = credential.response;
    const response = { clientDataJSON: bytesToB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = bytesToB64url(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = bytesToB64url(r.authenticatorData);
      response.signature = bytesToB64url(r.signature);
      if (r.userHandle) response.userHandle = bytesToB64url(r.userHandle);
    }
    return {
      id: credential.id,
      rawId: bytesToB64url(credential.rawId),
      type: credential.type,
      response: response,
      clientExtensionResults: credential.getClientExtensionResults(),
    };
  }

  function say(form, key) {
    const status = form.querySelector("[data-passkey-status]");
    if (status) status.textContent = form.dataset["msg" + key] || "";
  }

  async function run(form, button) {
    if (!window.PublicKeyCredential || !navigator.credentials) {
      say(form, "Unsupported");
      return;
    }
    button.disabled = true;
    say(form, "Working");
    try {
      const started = await fetch(form.dataset.options, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        credentials: "same-origin",
      });
      if (!started.ok) {
        const body = await started.json().catch(() => ({}));
        const status = form.querySelector("[data-passkey-status]");
        if (body.error && status) status.textContent = body.error;
        else say(form, "Failed");
        return;
      }
      const ceremony = await started.json();
      const credential = form.dataset.passkey === "create"
        ? await navigator.credentials.create({ publicKey: creationOptions(ceremony.public_key) })
        : await navigator.credentials.get({ publicKey: requestOptions(ceremony.public_key) });
      form.elements.flow_id.value = ceremony.flow_id;
      form.elements.credential.value = JSON.stringify(credentialJSON(credential));
      form.submit();
    } catch (error) {
      say(form, error && error.name === "NotAllowedError" ? "Cancelled" : "Failed");
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.passkey) return;
    if (form.elements.credential.value) return; // the answer is in: let it go
    event.preventDefault();
    run(form, event.submitter || form.querySelector("button[type=submit]"));
  });
})();
