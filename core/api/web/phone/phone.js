/*
 * Phone and Phone Video pages of wcs-trio (one page and script; the path picks the mode).
 * Uses only the public Flashphoner API, so it runs with our SDK or the official one.
 * Query parameters prefill the form (tests use them): ?url=ws://host:port&sipLogin=...
 */
(function () {
  'use strict';

  const SESSION_STATUS = () => Flashphoner.constants.SESSION_STATUS;
  const CALL_STATUS = () => Flashphoner.constants.CALL_STATUS;
  const $ = (id) => document.getElementById(id);
  // One page, two modes: /phone-video/ is the same markup with video on.
  if (location.pathname.startsWith('/phone-video')) {
    document.body.dataset.video = 'true';
    document.title = 'wcs-trio · Phone Video';
    document.querySelector('header h1').textContent = 'Phone Video';
  }
  const VIDEO = document.body.dataset.video === 'true';
  const FIELDS = ['urlServer', 'sipLogin', 'sipAuthenticationName', 'sipPassword', 'sipDomain',
    'sipOutboundProxy', 'sipPort', 'callee', 'authToken', 'transferTarget'];

  // Everything the page knows, also readable by tests as window.phone.
  const phone = { session: null, call: null, statsTimer: null, events: [] };
  window.phone = phone;

  function log(text) {
    phone.events.push(text);
    const li = document.createElement('li');
    li.textContent = `${new Date().toISOString().slice(11, 23)} ${text}`;
    $('log').prepend(li);
  }

  function setStatus(id, status, info) {
    const el = $(id);
    el.textContent = status || '';
    el.className = 'status-' + String(status || 'none').toLowerCase();
    if (id === 'callStatus') $('callInfo').textContent = info || '';
  }

  function defaultServerUrl() {
    const secure = location.protocol === 'https:';
    const host = location.hostname || '127.0.0.1';
    return secure ? `wss://${host}:8443` : `ws://${host}:8080`;
  }

  // No SIP server given: the gateway itself (its default SIP port 5080, or ?sipPort= as
  // `wcs-trio serve` prints it) is the SIP domain, and its demo endpoints (echo, tone-1000,
  // ivr) answer: Connect then Call works right after `wcs-trio serve`.
  function prefillDemo() {
    $('sipLogin').value = 'guest' + String(Math.floor(1000 + Math.random() * 9000));
    $('sipDomain').value = location.hostname || '127.0.0.1';
    $('sipPort').value = '5080';
    $('sipRegisterRequired').checked = false;
    $('callee').value = 'echo';
  }

  function prefill() {
    const q = new URLSearchParams(location.search);
    $('urlServer').value = q.get('url') || defaultServerUrl();
    if (!q.has('sipDomain')) prefillDemo();
    for (const id of FIELDS) if (q.has(id)) $(id).value = q.get(id);
    if (q.has('sipRegisterRequired')) $('sipRegisterRequired').checked = q.get('sipRegisterRequired') !== 'false';
    if (q.has('keepAlive')) $('keepAlive').checked = q.get('keepAlive') === 'true';
  }

  // ------------------------------------------------------------------ session
  function connect() {
    const token = $('authToken').value.trim();
    const registerRequired = $('sipRegisterRequired').checked;
    const options = { urlServer: $('urlServer').value.trim(), keepAlive: $('keepAlive').checked };
    if (token) options.authToken = token;
    options.sipOptions = {
      login: $('sipLogin').value.trim(),
      authenticationName: $('sipAuthenticationName').value.trim(),
      password: $('sipPassword').value,
      domain: $('sipDomain').value.trim(),
      outboundProxy: $('sipOutboundProxy').value.trim(),
      port: $('sipPort').value.trim(),
      registerRequired,
    };
    setConnectionFields(true);
    $('connectBtn').disabled = true;
    setStatus('connectionStatus', 'PENDING');
    let session;
    try {
      session = Flashphoner.createSession(options);
    } catch (e) {
      log('createSession: ' + e.message);
      onDisconnected();
      return;
    }
    phone.session = session;
    const S = SESSION_STATUS();
    session.on(S.CONNECTED, () => setStatus('connectionStatus', S.CONNECTED))
      .on(S.ESTABLISHED, (s, connection) => {
        setStatus('connectionStatus', S.ESTABLISHED);
        if (connection && connection.authToken) $('authToken').value = connection.authToken;
        log('session ESTABLISHED');
        onConnected();
        if (!registerRequired) enableCalling(true);
      })
      .on(S.REGISTERED, () => {
        setStatus('connectionStatus', S.REGISTERED);
        log('session REGISTERED');
        onConnected();
        enableCalling(true);
      })
      .on(S.DISCONNECTED, () => { setStatus('connectionStatus', S.DISCONNECTED); log('session DISCONNECTED'); onDisconnected(); })
      .on(S.FAILED, (s, obj) => {
        setStatus('connectionStatus', S.FAILED);
        log('session FAILED' + (obj && obj.info ? ': ' + obj.info : ''));
        onDisconnected();
      })
      .on(S.WARN, (obj) => {
        const text = obj && (obj.info || obj.apiMethod) ? `${obj.apiMethod || ''} ${obj.info || ''}` : '';
        $('sessionInfo').textContent = text;
        log('WARN ' + text);
      })
      .on(S.INCOMING_CALL, (call) => onIncomingCall(call));
  }

  function onConnected() {
    const btn = $('connectBtn');
    btn.textContent = 'Disconnect';
    btn.disabled = false;
    btn.onclick = () => {
      btn.disabled = true;
      if (phone.call) phone.call.hangup();
      phone.session.disconnect();
    };
  }

  function onDisconnected() {
    const btn = $('connectBtn');
    btn.textContent = 'Connect';
    btn.disabled = false;
    btn.onclick = connect;
    setConnectionFields(false);
    enableCalling(false);
    if (phone.call) callEnded();
  }

  function setConnectionFields(disabled) {
    for (const el of $('connectionForm').querySelectorAll('input')) el.disabled = disabled;
  }

  function enableCalling(on) {
    $('callBtn').disabled = !on || !!phone.call;
    $('callee').disabled = !on;
  }

  // ------------------------------------------------------------------ calls
  function constraints() {
    const audio = $('micList').value ? { deviceId: $('micList').value } : true;
    if (!VIDEO) return { audio, video: false };
    const video = { width: Number($('videoWidth').value) || 640, height: Number($('videoHeight').value) || 480 };
    if ($('cameraList').value) video.deviceId = $('cameraList').value;
    return { audio, video };
  }

  function watch(call) {
    const C = CALL_STATUS();
    for (const status of Object.values(C)) {
      call.on(status, () => {
        setStatus('callStatus', status, call.getInfo ? call.getInfo() : '');
        log(`call ${status}` + (call.getInfo && call.getInfo() ? ` (${call.getInfo()})` : ''));
        if (status === C.ESTABLISHED) callEstablished(call);
        if (status === C.HOLD) { $('holdBtn').textContent = 'Unhold'; $('holdBtn').disabled = false; }
        if (status === C.FINISH || status === C.FAILED || status === C.BUSY) callEnded();
      });
    }
    call.on('TRANSFER', (c, event) => log('transfer ' + (event && event.status)));
    phone.call = call;
  }

  function startCall() {
    const callee = $('callee').value.trim();
    if (!callee || !phone.session) return;
    const call = phone.session.createCall({
      callee,
      visibleName: $('sipLogin').value.trim(),
      localVideoDisplay: $('localDisplay'),
      remoteVideoDisplay: $('remoteDisplay'),
      constraints: constraints(),
      receiveAudio: true,
      receiveVideo: VIDEO,
    });
    watch(call);
    if ($('speakerList').value) call.setAudioOutputId($('speakerList').value);
    setStatus('callStatus', 'PENDING');
    call.call();
    const btn = $('callBtn');
    btn.textContent = 'Hangup';
    btn.disabled = false;
    btn.onclick = () => { btn.disabled = true; call.hangup(); };
  }

  function onIncomingCall(call) {
    if (phone.call) {
      log('second incoming call from ' + call.caller() + ' refused');
      call.hangup();
      return;
    }
    watch(call);
    log('incoming call from ' + call.caller());
    setStatus('callStatus', call.status());
    $('caller').textContent = call.caller() + (call.visibleName() ? ` (${call.visibleName()})` : '');
    $('incomingCall').hidden = false;
    $('callBtn').disabled = true;
    $('answerBtn').disabled = false;
    $('hangupBtn').disabled = false;
    $('answerBtn').onclick = () => {
      $('answerBtn').disabled = true;
      if ($('speakerList').value) call.setAudioOutputId($('speakerList').value);
      call.answer({
        localVideoDisplay: $('localDisplay'),
        remoteVideoDisplay: $('remoteDisplay'),
        constraints: constraints(),
        receiveVideo: VIDEO,
      });
    };
    $('hangupBtn').onclick = () => {
      $('hangupBtn').disabled = true;
      $('answerBtn').disabled = true;
      call.hangup();
    };
  }

  function callEstablished(call) {
    $('incomingCall').hidden = true;
    const btn = $('callBtn');
    btn.textContent = 'Hangup';
    btn.disabled = false;
    btn.onclick = () => { btn.disabled = true; call.hangup(); };
    $('holdBtn').textContent = 'Hold';
    for (const id of ['holdBtn', 'muteAudioBtn', 'muteVideoBtn', 'dtmfSendBtn', 'transferBtn',
      'switchMicBtn', 'switchCamBtn', 'videoSizeBtn']) $(id).disabled = false;
    if (!phone.statsTimer) phone.statsTimer = setInterval(refreshStats, 1000);
  }

  function callEnded() {
    phone.call = null;
    clearInterval(phone.statsTimer);
    phone.statsTimer = null;
    $('incomingCall').hidden = true;
    for (const id of ['holdBtn', 'muteAudioBtn', 'muteVideoBtn', 'dtmfSendBtn', 'transferBtn',
      'switchMicBtn', 'switchCamBtn', 'videoSizeBtn']) $(id).disabled = true;
    $('muteAudioBtn').textContent = 'Mute audio';
    $('muteVideoBtn').textContent = 'Mute video';
    $('holdBtn').textContent = 'Hold';
    const btn = $('callBtn');
    btn.textContent = 'Call';
    btn.onclick = startCall;
    const s = phone.session && phone.session.status();
    enableCalling(s === SESSION_STATUS().REGISTERED || s === SESSION_STATUS().ESTABLISHED);
  }

  // ------------------------------------------------------------------ call features
  function bindFeatures() {
    $('holdBtn').onclick = () => {
      const call = phone.call;
      if (!call) return;
      $('holdBtn').disabled = true; // re-enabled by HOLD or ESTABLISHED
      if ($('holdBtn').textContent === 'Hold') call.hold(); else call.unhold();
    };
    $('muteAudioBtn').onclick = () => {
      const call = phone.call;
      if (!call) return;
      if (call.isAudioMuted()) call.unmuteAudio(); else call.muteAudio();
      $('muteAudioBtn').textContent = call.isAudioMuted() ? 'Unmute audio' : 'Mute audio';
    };
    $('muteVideoBtn').onclick = () => {
      const call = phone.call;
      if (!call) return;
      if (call.isVideoMuted()) call.unmuteVideo(); else call.muteVideo();
      $('muteVideoBtn').textContent = call.isVideoMuted() ? 'Unmute video' : 'Mute video';
    };
    $('dtmfSendBtn').onclick = () => {
      const digits = $('dtmfInput').value.trim();
      if (phone.call && digits) {
        phone.call.sendDTMF(digits, $('dtmfType').value);
        log('DTMF ' + digits);
        $('dtmfInput').value = '';
      }
    };
    for (const key of '123456789*0#') {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = key;
      b.className = 'dtmf-key';
      b.dataset.digit = key;
      b.onclick = () => {
        if (phone.call && phone.call.status() === CALL_STATUS().ESTABLISHED) {
          phone.call.sendDTMF(key, $('dtmfType').value);
          log('DTMF ' + key);
        }
      };
      $('keypad').appendChild(b);
    }
    $('transferBtn').onclick = () => {
      const target = $('transferTarget').value.trim();
      if (phone.call && target) { phone.call.transfer(target); log('transfer to ' + target); }
    };
    $('switchMicBtn').onclick = () => switchDevice('switchMic', 'micList');
    $('switchCamBtn').onclick = () => switchDevice('switchCam', 'cameraList');
    $('micList').onchange = () => phone.call && switchDevice('switchMic', 'micList', $('micList').value);
    $('cameraList').onchange = () => phone.call && switchDevice('switchCam', 'cameraList', $('cameraList').value);
    $('speakerList').onchange = () => {
      if (phone.call) phone.call.setAudioOutputId($('speakerList').value);
    };
    $('videoSizeBtn').onclick = () => {
      const call = phone.call;
      if (!call || !call.updateVideoResolution) return;
      call.updateVideoResolution({ width: Number($('videoWidth').value), height: Number($('videoHeight').value) })
        .then(() => log('video size applied'), (e) => log('video size: ' + (e.message || e)));
    };
  }

  function switchDevice(method, listId, id) {
    const call = phone.call;
    if (!call) return;
    Promise.resolve().then(() => call[method](id)).then((newId) => {
      $(listId).value = newId;
      log(`${method} -> ${newId}`);
    }).catch((e) => log(`${method}: ${e.message || e}`));
  }

  function fillDevices() {
    const kind = Flashphoner.constants.MEDIA_DEVICE_KIND.ALL;
    Flashphoner.getMediaDevices(null, true, kind, VIDEO ? undefined : { audio: true, video: false }).then((list) => {
      for (const device of [...list.audio, ...list.video]) {
        const target = { mic: 'micList', speaker: 'speakerList', camera: 'cameraList' }[device.type];
        if (!target) continue;
        const option = document.createElement('option');
        option.value = device.id;
        option.textContent = device.label;
        $(target).appendChild(option);
      }
    }).catch((e) => log('devices: ' + (e.message || e)));
  }

  // ------------------------------------------------------------------ statistics
  function refreshStats() {
    const call = phone.call;
    if (!call) return;
    call.getStats((stats) => {
      if (!stats) return;
      phone.stats = stats;
      const show = (id, v) => { $(id).textContent = v === undefined ? '-' : v; };
      for (const [kind, name] of [['audio', 'Audio'], ['video', 'Video']]) {
        const out = stats.outboundStream[kind] || {};
        const inb = stats.inboundStream[kind] || {};
        show(`stats${name}BytesSent`, out.bytesSent);
        show(`stats${name}PacketsSent`, out.packetsSent);
        show(`stats${name}BytesReceived`, inb.bytesReceived);
        show(`stats${name}PacketsReceived`, inb.packetsReceived);
        show(`stats${name}PacketsLost`, inb.packetsLost);
        show(`stats${name}Codec`, out.codec || inb.codec);
      }
      show('statsVideoFramesEncoded', (stats.outboundStream.video || {}).framesEncoded);
      show('statsVideoFramesDecoded', (stats.inboundStream.video || {}).framesDecoded);
    });
  }

  // ------------------------------------------------------------------ start
  function start() {
    prefill();
    try {
      Flashphoner.init({});
    } catch (e) {
      setStatus('connectionStatus', 'FAILED');
      log('This browser cannot run WebRTC: ' + e.message);
      $('connectBtn').disabled = true;
      return;
    }
    $('callBtn').onclick = startCall;
    bindFeatures();
    onDisconnected();
    setStatus('connectionStatus', 'DISCONNECTED');
    fillDevices();
  }

  start();
})();
