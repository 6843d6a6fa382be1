// passkey.js: the webapp's one script, for passkeys (WebAuthn, a
// JavaScript-only browser API). Every page works without it; with it:
//
//   - the login page gains "Sign in with a passkey" (#passkey-login) and
//     passkey autofill on the email input (autocomplete="username webauthn",
//     a conditional-mediation request started on load);
//   - the second step gains "Use a passkey" (#passkey-2fa);
//   - Profile → Security gains the "Add a passkey" form (#passkey-add).
//
// Each ceremony is two same-origin JSON calls around navigator.credentials:
// ".../begin" answers {ceremony, options}, and ".../finish" takes
// {ceremony, credential, ...} and answers {redirect}. Errors come back as
// {error, field, redirect}. Binary fields travel as base64url; they are
// decoded and encoded here by hand rather than with
// PublicKeyCredential.parseCreationOptionsFromJSON / toJSON, which older
// browsers lack.
//
// The Content-Security-Policy allows this file and nothing inline, so the
// listeners are attached here, by element ID.
"use strict";

(function () {
  const unsupportedMessage = "This browser does not support passkeys.";
  const supported = typeof window.PublicKeyCredential !== "undefined" &&
    typeof navigator.credentials !== "undefined";

  // base64url <-> ArrayBuffer.

  function fromBase64url(s) {
    const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4);
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) {
      bytes[i] = bin.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toBase64url(buf) {
    const bytes = new Uint8Array(buf);
    let bin = "";
    for (let i = 0; i < bytes.length; i++) {
      bin += String.fromCharCode(bytes[i]);
    }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withBinaryID(d) {
    return Object.assign({}, d, { id: fromBase64url(d.id) });
  }

  // The server's publicKey options, as navigator.credentials.create takes them.
  function creationOptions(o) {
    const pk = Object.assign({}, o);
    pk.challenge = fromBase64url(o.challenge);
    pk.user = Object.assign({}, o.user, { id: fromBase64url(o.user.id) });
    if (o.excludeCredentials) {
      pk.excludeCredentials = o.excludeCredentials.map(withBinaryID);
    }
    return pk;
  }

  // The server's publicKey options, as navigator.credentials.get takes them.
  function requestOptions(o) {
    const pk = Object.assign({}, o);
    pk.challenge = fromBase64url(o.challenge);
    if (o.allowCredentials) {
      pk.allowCredentials = o.allowCredentials.map(withBinaryID);
    }
    return pk;
  }

  // The PublicKeyCredential as the JSON the server parses.
  function credentialJSON(cred) {
    const r = cred.response;
    const out = {
      id: cred.id,
      rawId: toBase64url(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: typeof cred.getClientExtensionResults === "function" ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: toBase64url(r.clientDataJSON) },
    };
    if (r.attestationObject) { // registration
      out.response.attestationObject = toBase64url(r.attestationObject);
      if (typeof r.getTransports === "function") {
        out.response.transports = r.getTransports();
      }
    } else { // login
      out.response.authenticatorData = toBase64url(r.authenticatorData);
      out.response.signature = toBase64url(r.signature);
      if (r.userHandle) {
        out.response.userHandle = toBase64url(r.userHandle);
      }
    }
    return out;
  }

  // call POSTs body as JSON and returns the JSON answer; a refusal throws
  // an Error carrying the server's words, field and redirect.
  async function call(url, body, signal) {
    const res = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body || {}),
      signal: signal,
    });
    let data = {};
    try {
      data = await res.json();
    } catch (e) {
      // not JSON: say so below
    }
    if (!res.ok) {
      const err = new Error(data.error || "The server answered " + res.status + ". Reload the page and try again.");
      err.fromServer = true;
      err.field = data.field || "";
      err.redirect = data.redirect || "";
      throw err;
    }
    return data;
  }

  // words says what went wrong in a person's terms.
  function words(err) {
    if (err.fromServer) {
      return err.message;
    }
    switch (err.name) {
      case "NotAllowedError":
        return "The passkey request was cancelled or timed out. Try again.";
      case "InvalidStateError":
        return "This device already holds a passkey for your account.";
      case "SecurityError":
        return "Passkeys do not work at this address. Open the site at the address it is set up for " +
          "(for example http://localhost:8080, not 127.0.0.1).";
      case "NotSupportedError":
        return "This device cannot make the kind of passkey this site needs.";
      case "TypeError":
        return "The server could not be reached, or the request failed. Try again.";
    }
    return "The passkey request failed: " + err.message;
  }

  // Error slots are the box's [data-error-for] elements: "" for the box,
  // else the input's field name as the server reports it.
  function clearErrors(box) {
    box.querySelectorAll("[data-error-for]").forEach(function (el) {
      el.textContent = "";
      el.hidden = true;
    });
  }

  function showError(box, field, message) {
    clearErrors(box);
    let slot = box.querySelector('[data-error-for="' + (field || "") + '"]');
    if (!slot) {
      slot = box.querySelector('[data-error-for=""]');
    }
    slot.textContent = message;
    slot.hidden = false;
  }

  // report shows err in box, or follows the server's redirect (a login
  // that expired). An abort is no error: the page cancelled the request.
  function report(box, err) {
    if (err.name === "AbortError") {
      return;
    }
    if (err.redirect) {
      window.location.assign(err.redirect);
      return;
    }
    showError(box, err.field, words(err));
  }

  // run disables button while ceremony runs, and reports its failure.
  async function run(box, button, ceremony) {
    clearErrors(box);
    if (!supported) {
      showError(box, "", unsupportedMessage);
      return;
    }
    button.disabled = true;
    try {
      await ceremony();
    } catch (err) {
      report(box, err);
    } finally {
      button.disabled = false;
    }
  }

  // Passwordless login: the button, and autofill.

  async function passkeyLogin(box, mediation, signal) {
    const begun = await call("/login/passkey/begin", {}, signal);
    const request = { publicKey: requestOptions(begun.options.publicKey) };
    if (mediation) {
      request.mediation = mediation;
    }
    if (signal) {
      request.signal = signal;
    }
    const pending = navigator.credentials.get(request);
    if (mediation === "conditional") {
      // A hook for styles (and the browser test): the browser offers the
      // passkeys in the email field's autofill now.
      box.dataset.autofill = "waiting";
    }
    let cred;
    try {
      cred = await pending;
    } finally {
      delete box.dataset.autofill;
    }
    const remember = document.querySelector('form[action="/login"] input[name=remember]');
    const done = await call("/login/passkey/finish", {
      ceremony: begun.ceremony,
      credential: credentialJSON(cred),
      next: box.dataset.next || "/",
      remember: remember !== null && remember.checked, // "Keep me signed in"
    });
    window.location.assign(done.redirect);
  }

  // startAutofill offers the browser's passkeys in the email input's
  // autofill, where the browser can (conditional mediation). It returns
  // the request's AbortController and a promise that settles when it ends.
  function startAutofill(box) {
    const controller = new AbortController();
    const done = (async function () {
      const pkc = window.PublicKeyCredential;
      if (typeof pkc.isConditionalMediationAvailable !== "function" ||
        !(await pkc.isConditionalMediationAvailable()) || controller.signal.aborted) {
        return;
      }
      await passkeyLogin(box, "conditional", controller.signal);
    })().catch(function (err) {
      // An autofill request that ends unused (it times out, or the person
      // dismissed it) is no error to show; the server's refusals are.
      if (err.name !== "NotAllowedError") {
        report(box, err);
      }
    });
    return { controller: controller, done: done };
  }

  function setupLogin() {
    const box = document.getElementById("passkey-login");
    const button = document.getElementById("passkey-login-button");
    if (!box || !button) {
      return;
    }
    let autofill = supported ? startAutofill(box) : null;
    button.addEventListener("click", function () {
      run(box, button, async function () {
        if (autofill) {
          // One WebAuthn request at a time: end the autofill one first.
          autofill.controller.abort();
          await autofill.done;
          autofill = null;
        }
        await passkeyLogin(box);
      });
    });
    box.hidden = false;
  }

  // The second step of a login.

  function setupSecondFactor() {
    const box = document.getElementById("passkey-2fa");
    const button = document.getElementById("passkey-2fa-button");
    if (!box || !button) {
      return;
    }
    button.addEventListener("click", function () {
      run(box, button, async function () {
        const begun = await call("/login/2fa/passkey/begin", {});
        const cred = await navigator.credentials.get({ publicKey: requestOptions(begun.options.publicKey) });
        const done = await call("/login/2fa/passkey/finish", {
          ceremony: begun.ceremony,
          credential: credentialJSON(cred),
          next: box.dataset.next || "/",
        });
        window.location.assign(done.redirect);
      });
    });
    box.hidden = false;
  }

  // Profile → Security: add a passkey.

  function setupRegistration() {
    const form = document.getElementById("passkey-add");
    if (!form) {
      return;
    }
    const button = form.querySelector("button[type=submit]");
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      const name = form.elements.namedItem("name").value.trim();
      const pw = form.elements.namedItem("password");
      run(form, button, async function () {
        const begun = await call("/profile/passkeys/register/begin", { password: pw ? pw.value : "", name: name });
        const cred = await navigator.credentials.create({ publicKey: creationOptions(begun.options.publicKey) });
        const done = await call("/profile/passkeys/register/finish", {
          ceremony: begun.ceremony,
          credential: credentialJSON(cred),
          name: name,
        });
        window.location.assign(done.redirect);
      });
    });
    form.hidden = false;
  }

  setupLogin();
  setupSecondFactor();
  setupRegistration();
})();
