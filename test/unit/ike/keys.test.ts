// IKEv2 key derivation: NIST CAVP (SP 800-135) IKEv2 vectors as strongSwan ships them, and an
// independent derivation on @noble/hashes written from RFC 7296 2.14, 2.15, 2.17 and 2.18.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256, sha384, sha512 } from '@noble/hashes/sha2.js';
import { SUPPORTED_PRFS, prfById, type Prf } from '../../../firmware/crypto/prf.ts';
import { IdType, PrfId } from '../../../firmware/ike/constants.ts';
import {
  KeyDerivationError,
  deriveChildSaKeys,
  deriveIkeSaKeys,
  deriveRekeyedIkeSaKeys,
  idPayloadBody,
  ikeSaKeysFromSkeyseed,
  pskAuth,
  rekeySkeyseed,
  signedOctets,
  skeyseed,
  verifyPskAuth,
  type IkeSaKeys,
} from '../../../firmware/ike/keys.ts';
import { encrKeymatBytes } from '../../../firmware/ike/proposal.ts';
import { EncrId } from '../../../firmware/ike/constants.ts';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

function prng(seed: number): (n: number) => Buffer {
  let s = seed >>> 0;
  return (n) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) {
      s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
      b[i] = s & 0xff;
    }
    return b;
  };
}

// ---------------------------------------------------------------- independent oracle

const HASH = { [PrfId.HMAC_SHA2_256]: sha256, [PrfId.HMAC_SHA2_384]: sha384, [PrfId.HMAC_SHA2_512]: sha512 } as const;
const P = (prf: Prf, key: Uint8Array, ...data: Uint8Array[]): Buffer => Buffer.from(hmac(HASH[prf.id as keyof typeof HASH], key, Buffer.concat(data)));
function PP(prf: Prf, key: Uint8Array, seed: Uint8Array, len: number): Buffer {
  let t: Buffer = Buffer.alloc(0);
  const out: Buffer[] = [];
  for (let i = 1; Buffer.concat(out).length < len; i++) out.push((t = P(prf, key, t, seed, Buffer.from([i]))));
  return Buffer.concat(out).subarray(0, len);
}
function take(stream: Buffer, sizes: number[]): Buffer[] {
  let off = 0;
  return sizes.map((n) => stream.subarray(off, (off += n)));
}
const flat = (k: IkeSaKeys): Buffer => Buffer.concat([k.skD, k.skAi, k.skAr, k.skEi, k.skEr, k.skPi, k.skPr]);

// ---------------------------------------------------------------- published vectors

// NIST CAVP SP 800-135 IKEv2 vectors from strongSwan's test_vectors/kdf_prf.c and kdf_prf_plus.c:
// g^ir and Ni | Nr give SKEYSEED; SKEYSEED and Ni | Nr | SPIi | SPIr give the prf+ stream
// {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr}. The first of each pair uses 8-byte
// nonces (the minimum CAVP tests), the second 256-byte ones.
const CAVP: { name: string; prf: PrfId; gir: string; nonces: string; spis: string; skeyseed: string; stream: string }[] = [
  {
    name: 'sha256 #1',
    prf: PrfId.HMAC_SHA2_256,
    gir:
    '42968e5d0ccc3cfc5a3e4bc1bba370cea1fae0d54c49ccba34b2bee804beeb2e9e8c57a4e01bd45102cf2433aacc6cfe' +
    'c06792f363e5170e6aa6650274e906648e449d27a8f00b5b44261982c9835c748a751ec5138eaacc5e025661339538a6' +
    '1bf418e454699e19c32db8d9ce5dd86b220f1e89afc5872e68be36cb1a0c8866',
    nonces:
    'ed80dc79912c32a935fb6d1a3feac078',
    spis: '47c1858efc932ea4606fd05609624002',
    skeyseed:
    '37fde90b81d63692620f67367b62092e3efdc6a03509137d731004767ff35010',
    stream:
    '63d018a08f7a29daa7d1f92cb63f45fa39bbaf5e5f1a78139613bb891e3e6bf9d0448f7c74e05b4c1a25c0b61e62c875' +
    'e852f287e192d4ae536112db5197216400bd5e123470efc15f53161865fe8b19a1416518a157d651ecd2caddab6a9eae' +
    '6a27a55af088218d5156edaa9789f934d9836ed43edffda553822202ff9f7d4860ca72e0',
  },
  {
    name: 'sha256 #2',
    prf: PrfId.HMAC_SHA2_256,
    gir:
    'b070208f8947df4f7d1276161f407f7b7f5c4a49ac79f0cc0c7d4e28484c6f8584f0007b9bf0e05fdb5961a17d3aa85c' +
    '6e3f5571296a43ba896cdc88c1a4457fb12cbe56ca4a20c9a7e19adc67453c4ade539e259f825ff94c9a83f839602f86' +
    '51c9276d8e444ecb95a0540ee7ea3220a922345ed99ef7e7ad32b19d4610e9ef',
    nonces:
    'efa72913182278ffbd14e78920c062519abab8c16e5ed70c0841a48cdb98237ee93f735fb2df184358aadc13d83f43fe' +
    '8d8705176c8ca313825a1bcdf77911c598001671ffbf014e37a8c04d49a7839dfea6cdc587688d4588fe43235b71693f' +
    'fd07293386b6bf4c199e336165b260787736f54be95db69116388bc2eca2b3b29484717417bb3c71814ce13b84446dc3' +
    '964c302984f97781f63166240890107c2e751a00436f7c3c9ff12760e49d91563be603fd9641a0a64918a93291ed113d' +
    'b12f9707609d172096eb58f9154474da40c1f5c0903e9ca2f91ba6600775df7166caf8e327859e676232d34046044cee' +
    '43f9019f04685612635b99cbebcb363d565eaf0e547eecb941c994dfd471ed5643c087744f7709cc3e2510f27426c62c' +
    '0ff3acb3c27661d26a6d83c2a25e13a6d465bd047f905500e5ebbe4266430d5667140f77e797712a8c8f63c583f4b464' +
    '9b72899ea34abfdb17617c460c35f2506494494f223e251ac71a5b9b7eea87f4f5e333a3c1bbb4bb09258b6a4b5f8c9f' +
    'b82bf42da9d4a46543c6a9eb9aa30ea9da801915abcc1712d082f292a63fd9af7154a97cc73859a4be3cba359d321800' +
    '4e14df02d09edf0ad5796bb010995293ab5d042c31055380cc9cb2e3617982c45f6bce1fb8a40ef9eac48ae17720dfec' +
    'c71ec857ea33f32eb346ba6036e8f9ccd7bcadc6c1ab92a80c57e78959d8b828',
    spis: '57e91df9c5ffb8424d5eadac0e570f7c',
    skeyseed:
    '29bd115568ae0988270fc386d395fe3707a4d06289f352bba4c00a9ad855a08d',
    stream:
    'd5033d087934c61538b23dff875b3ba920e05c1b42ac7f9793995e76ba3e461d6e83b2fbe0fa681ba285696d53b175e0' +
    '70c4c1cbc74043f7cac558c494acd23aabfc7a685b6274134408cafc1692852aca663cefd7dd0c8a872a36a1414db4b7' +
    'f314ad0e49f2c187162e2876c6053dbef5a2ea8c33dcd3dd91687644377c45f4b5c418e1e10bec22baac313b902bdffc' +
    'fb69c68ef4e71c5acc39a9f07acb1fc3ba8e92c6dca861a64163b0689da4a97f124026360990c9f1ae4e8d0298f077fc' +
    'bb0c203fd2ca821deab0591a221d9d0a798d02f078d8fb6e931ca446a13f11638c6b6afb8225a008f938a6878c5b577e' +
    '03aecfa7314101edd0fda3bdbea4985c',
  },
  {
    name: 'sha384 #1',
    prf: PrfId.HMAC_SHA2_384,
    gir:
    '4df040b70978629c49437cff41a0d46cbea68c8d75b370ffc11d7b387144ea83bb5903fbb92e473df50a9b19ea43e9c2' +
    'f3da9a849c03864276c6f264ecf02a60d40ba65c06656b633f02a87427e928eb66a2dabd9dc05744717bcaf7ae78c296' +
    '872f5c48d1a8120c2155b70c565ce271998e3e44af263d487ea3ba7f56132d7d',
    nonces:
    'd672b0bc852829b93509f3b724706364',
    spis: '0f9a016d7b22223c85f710daf8b982d8',
    skeyseed:
    '54436a9ea95d6ff79b967f4b07f6de976a376e8ea26aa9574709afc60243c9c141da4ca0e158e627a75ea87f6feb07ef',
    stream:
    '10b00a654643b3b985764f86e23ef62431122fcc96de16e338a372bee49391db1f83a7358c080380abbf4af47cdb83b9' +
    '530343168f7dbc9221260e1546c6b383e2235d2705a727f0b41aebf6a1b4c61cb460660152a17ba74c20d5191ba68417' +
    '94945270d829587b7f3294639ea7b77149e1d07230ac16e0cd5ab236fa3212bd569ee70f',
  },
  {
    name: 'sha384 #2',
    prf: PrfId.HMAC_SHA2_384,
    gir:
    'ae505082ac47ff9aa354b7af2b072cb49cec838d00ee3613881a9977b2159599a02495f0e52d961a516c6bb61ed03a86' +
    '37bb507c5c27bab58df154e8e5014821840cfc50b3a478b45dd168eb180d69cba61a1b4259193a51a7a495c95805382e' +
    '3abf5587688f34b63f71163982de3ddf7f263bb69f65c3ecae6165bf7fdd5317',
    nonces:
    '9e2a62f9362893ddf84716fec2f23f9dcbd9010df6fe9e0eb46d03d914f304d8fe4d3ee2d6a03b40e56a325e822a1736' +
    '1929184ade09eaa445278d3870417a7cf565584f572ad34ff72bc7781a39a48b54b55d6eb0ed68551b222c7afada0bc8' +
    '2236ec31ce6c046b3b2edb2def61f4d2d857b2d1cb3696c023e08c08d6abd04d4f69092b14583735b9e918aee5a3999d' +
    'cbf58fdad6fcd47c95929877030e54b708235f2a2e11e7c58584619aa2fa69315344d3657b55720a25ebe88ea0776972' +
    'c9e22469b7ed5da96b3c7685f7b0569960bd644f130b44a0d551bb0e902ed68ab384fdc2facaf79bbf8d6d3736dfa952' +
    'cd70f4746f1a4aeac2bdbeca97b78fc1777878c12859433552a77d7f942e5b60476991a1e3d0427cd677345a1ce2063a' +
    '2e0ec547a9d821da759f1a91b58817bd0dc4effc126f6f4eb0b911e904ed21dc439d658a773f97e179ad20bc3c63609f' +
    '2874062e835f6ae08d59654f9c8861e527039eeac32b9eed293bd8b1e0e7c67bf1d755246a1b063ff00632a46dd5cf69' +
    '48f0eed9b65c5939dfd21480a63df0cab0a7509c4245a1be7547ccc6f73c724b48b7867012e0ca3e472e0d550649a734' +
    '440feffc8e73682cb60453e7a47e72fe0874eb40acd0d48e4e57197416112bcdc8bb7a58bea745fdd64c16f666c88d9e' +
    '3bd235b137206f6cdba190be65ec033c191f676b428ec1205dc5e945828508d8',
    spis: '6fd4bc625402aa685f60725efdb42596',
    skeyseed:
    'ff66e9d092dc01e0b81f939f52f5c07d38d805b98628ce1ac5fe94c098577647339fad68941ffe21e01efb4e7050213b',
    stream:
    '2810288a45a502211feade9943b4224a3f54cf97f191b621d80a19f3f1b0366d5ed73d195b732a15b599051a13b7c584' +
    '175521e3a97cdb220c8924b0ec234a942e0579675f193926ab332970585553e230e3429c6e8ba71b9374bd4a8df96945' +
    '6840527f2cf635392be9c17ca8474cf01b332b8108b54c48aafc86ac4cfce7058ee114540e5a1b952201ee3d0ac9d3e3' +
    '3f01807584339ac3f43ccdd395c58bb3f4a4cc5c57871ea1d3eaa8d0302bb308d1d203af13147e87ab2b9159ae361ec0' +
    '11d673fe3f162b3989da3488d8ffea2b51e7465faddca67d1d54c8940a8ab62e8abe4145cb25159125950119e3c01a81' +
    '3575f0a959b143bc31f62b4734aa45e2',
  },
  {
    name: 'sha512 #1',
    prf: PrfId.HMAC_SHA2_512,
    gir:
    '1e3b007d2da913ca60ecc98c25a22db08073d5c35c11b2524b298a922b6abfe6acf7359db66ae5f85d67aacff686419c' +
    'd8666d05ae7977cefad7f54dd8e312a8e8e5e0370f88142fbdd659dd6fde22bdd531f5402881a8de85c1024e595ec93c' +
    '575618af7fd3dbac7982919078d71cc13eff1910a032750e1ff428675de189ee',
    nonces:
    'df7931db9b429e10b8aa8e4d46042393',
    spis: '9ba40af9157f47925383c7cd3d1046e6',
    skeyseed:
    'daf9bd6f2f912da553867966af386e67909a8df0ca7e84b83b355cb7d7f1026f17d8ea34b5d57fd0d1ba389528fca1e8' +
    '1d1c8ce511b28a2458241143fee30ccc',
    stream:
    '919a75deaeccbd393bebc89615f8a215edb7073b2319d86740221eee7a2deb92509044d7e61fcb1bf9676b3881c7ced4' +
    '9e6bba1549da3113601677a2445d91ac13a597335782dd3a9cf496d9e19b932f27dd35e36f8070d232d0a3b3f4c4a0b4' +
    'ba4470778dc090f31f52ab1b6d81e4c7dfb35063ad96c327adcdbde714cc9a6b5ef049b8',
  },
  {
    name: 'sha512 #2',
    prf: PrfId.HMAC_SHA2_512,
    gir:
    '9cb4bf2446170ac381025266a1a4b86513df60ea7d07b1b2139d78f331ef7eb7be8b15d86cd85e2a6a34a55869f8dcc9' +
    '754f49697331b9b650ce256edb3371a94b7c2a132f2fc99d22303717c36739d17c0e9718d7c052e7ab4d4858adeb9b8b' +
    '4d3303a9e1b6bef29f03035beed071d3bb810d853971a748c56c59e0bafb9b5a',
    nonces:
    'd89684e3cb17f3aabd853a78db3ecd5aacc1ed71c70b88a29756f46fc7197c804ec001544002a8aea360684b18006def' +
    '0dbd8633b1019fbcfa85b94cac2bb8212584be62adab0ee4bb8a36aee25275ef071390480eefa2092eb308aa7337c5ce' +
    'b6069ab690e8962fbfe0986e4f5c18f486861ed3f1dcbee4c9e4a7669d740ca2b0e8ed4031b0a499dc315cede7ef0339' +
    '9cbc33dcd62970349f1220881b55452e0c6c9b52a88b67f597586795b22570733fd4ff2cc2ad931d8330165a9e450e38' +
    '8859ce624f01db17c2502b4e66adf96527363d6f906b2023e8ed74d5af0aa60246b0b92f49c4933ef312f8a25434ee96' +
    '98d6d9204345bd10bb11aa39865616d5ad1b5744706cfd4ea1408e20c8fdcf8551eee8814b7b37330b0526f0bc5ee15d' +
    '4ecda7a1bd25aa97f24584d85d3f5249694b9f43539e69ea35bfe7fd4407bc8e9dca8a9fae4bdc6b7bb38c6d68f899e1' +
    'd32c85bcd617a567678cf85d2217a4e86a755624b64002354c026842bc9542491af1c3d6290970559af11bdc2c83b54c' +
    '74144905c0a358f3153db767a5da2a8627f69627e1d41ede9c907c79b51ff815e4645c3375e0f63f84fcf5d7c3407a1d' +
    'd6839e1906a1e3802ccf5e8230d95cf4b827b41c483425a8a60bfa5189dac438060f2f5cd526662f2906c1dd64f4844e' +
    '942ca84daece6dd7bbf7194d8ce56bc2831085a7d310e4944cfae76260aabf6b',
    spis: '609d88789b8a1abf500186c3d97ed2ab',
    skeyseed:
    'e570e7484634300d7addf5a8527c138b7696dbc3d8be0969b75215318a11ada213538f6293b0eee5b309ad8f5d8d94db' +
    'e5736127e0d2560f281c9c586bf7c86f',
    stream:
    '987fadd804994567d57f989b6cda66efbffcab28ac3e3bc6107805954eb1ead0cea6fb49aa961cbe98fdad57dd9c4556' +
    '7ce496747862f88bcd9fc57559a07ea927a42082ba87e0f51b3d5b8cbdeaddeda3ae4c73b1a51dd0dce3cc8eb3b1419b' +
    '93f29dc6522b2f5e9375238203eca98ed86bf1e6868ab428d863a5f3b987d6c0f957af08a1631f7cdc008cbbffc24b02' +
    '931a020194e368d6b5702e7f8b960dbc93ca56ed5a68dae0206994edf1476f5fa34efbdaa973d27ba368cedcc666d763' +
    'bd6ad560573851bffb7099af588f34ff2e599b0e87f70a7f4aa48e951d0c5c30ddfc1f98c128631590cde00a7c93158d' +
    'bf4caa537b315931b714d72f4d2a01c9',
  },
];

test('SKEYSEED and SK_* match the NIST CAVP IKEv2 vectors', () => {
  for (const v of CAVP) {
    const prf = prfById(v.prf);
    const nonces = hex(v.nonces);
    const ni = nonces.subarray(0, nonces.length / 2);
    const nr = nonces.subarray(nonces.length / 2);
    const spis = hex(v.spis);
    const [spiI, spiR] = [spis.subarray(0, 8), spis.subarray(8)];
    assert.equal(skeyseed(prf, ni, nr, hex(v.gir)).toString('hex'), v.skeyseed, `${v.name} SKEYSEED`);
    // AES-256-GCM keys (32 + 4 salt) unless the vector's stream is too short for SHA-512's long SK_d/SK_p.
    const encrKeyBytes = v.prf === PrfId.HMAC_SHA2_512 ? 20 : 36;
    const keys = deriveIkeSaKeys({ prf, sharedSecret: hex(v.gir), ni, nr, spiI, spiR, encrKeyBytes });
    assert.equal(keys.skD.length, prf.preferredKeyBytes);
    assert.equal(keys.skAi.length, 0);
    assert.equal(keys.skAr.length, 0);
    assert.equal(keys.skEi.length, encrKeyBytes);
    assert.equal(keys.skEr.length, encrKeyBytes);
    assert.equal(keys.skPi.length, prf.preferredKeyBytes);
    assert.equal(keys.skPr.length, prf.preferredKeyBytes);
    const all = flat(keys);
    const n = Math.min(all.length, v.stream.length / 2);
    assert.equal(all.subarray(0, n).toString('hex'), v.stream.slice(0, 2 * n), `${v.name} SK_* stream (${n} of ${all.length} bytes covered)`);
    if (v.name.endsWith('#2')) assert.equal(n, all.length, `${v.name} covers every key`);
    // The same from SKEYSEED directly.
    assert.deepEqual(flat(ikeSaKeysFromSkeyseed(prf, hex(v.skeyseed), ni, nr, spiI, spiR, { encrKeyBytes })), all);
  }
});

test('SK_e lengths include the 4-byte salt (RFC 5282 7.1, RFC 7634 4)', () => {
  assert.equal(encrKeymatBytes(EncrId.AES_GCM_16, 128), 20);
  assert.equal(encrKeymatBytes(EncrId.AES_GCM_16, 192), 28);
  assert.equal(encrKeymatBytes(EncrId.AES_GCM_16, 256), 36);
  assert.equal(encrKeymatBytes(EncrId.CHACHA20_POLY1305), 36);
  assert.equal(encrKeymatBytes(EncrId.AES_GCM_16), undefined);
  assert.equal(encrKeymatBytes(EncrId.AES_CBC, 256), undefined);
});

// ---------------------------------------------------------------- oracle tests

test('IKE SA keys: order and lengths per RFC 7296 2.14, against the independent derivation', () => {
  const rnd = prng(2014);
  for (const prf of SUPPORTED_PRFS) {
    for (const e of [20, 28, 36]) {
      for (const a of [0, 32]) {
        const [gir, ni, nr, spiI, spiR] = [rnd(32 + (rnd(1)[0]! % 224)), rnd(32), rnd(16 + (rnd(1)[0]! % 240)), rnd(8), rnd(8)];
        const k = deriveIkeSaKeys({ prf, sharedSecret: gir, ni, nr, spiI, spiR, encrKeyBytes: e, integKeyBytes: a });
        const seed = P(prf, Buffer.concat([ni, nr]), gir);
        const p = prf.preferredKeyBytes;
        const sizes = [p, a, a, e, e, p, p];
        const [d, ai, ar, ei, er, pi, pr] = take(PP(prf, seed, Buffer.concat([ni, nr, spiI, spiR]), sizes.reduce((x, y) => x + y)), sizes);
        assert.deepEqual(k, { skD: d, skAi: ai, skAr: ar, skEi: ei, skEr: er, skPi: pi, skPr: pr }, `${prf.name} e=${e} a=${a}`);
        assert.notDeepEqual(k.skEi, k.skEr);
      }
    }
  }
});

test('IKE SA rekey (RFC 7296 2.18): SKEYSEED with the old PRF and SK_d, keys with the new PRF and new SPIs', () => {
  const rnd = prng(2018);
  for (const oldPrf of SUPPORTED_PRFS) {
    for (const prf of SUPPORTED_PRFS) {
      const [oldSkD, gir, ni, nr, spiI, spiR] = [rnd(oldPrf.preferredKeyBytes), rnd(32), rnd(32), rnd(32), rnd(8), rnd(8)];
      const seed = P(oldPrf, oldSkD, gir, ni, nr);
      assert.deepEqual(rekeySkeyseed(oldPrf, oldSkD, gir, ni, nr), seed);
      const k = deriveRekeyedIkeSaKeys({ oldPrf, oldSkD, prf, sharedSecret: gir, ni, nr, spiI, spiR, encrKeyBytes: 36 });
      const p = prf.preferredKeyBytes;
      const sizes = [p, 0, 0, 36, 36, p, p];
      const stream = PP(prf, seed, Buffer.concat([ni, nr, spiI, spiR]), sizes.reduce((x, y) => x + y));
      assert.deepEqual(flat(k), stream, `${oldPrf.name} -> ${prf.name}`);
      assert.equal(k.skD.length, p);
    }
  }
});

test('Child SA KEYMAT (RFC 7296 2.17): initiator-to-responder first, encryption before integrity, with and without PFS', () => {
  const rnd = prng(2017);
  for (const prf of SUPPORTED_PRFS) {
    const [skD, ni, nr, gir] = [rnd(prf.preferredKeyBytes), rnd(32), rnd(32), rnd(97)];
    // AEAD: no integrity keys.
    const aead = deriveChildSaKeys({ prf, skD, ni, nr, encrKeyBytes: 36 });
    const km = PP(prf, skD, Buffer.concat([ni, nr]), 72);
    assert.deepEqual(aead.encrI, km.subarray(0, 36));
    assert.deepEqual(aead.encrR, km.subarray(36, 72));
    assert.equal(aead.integI.length, 0);
    assert.equal(aead.integR.length, 0);
    // PFS: g^ir(new) | Ni | Nr.
    const pfs = deriveChildSaKeys({ prf, skD, ni, nr, sharedSecret: gir, encrKeyBytes: 20 });
    const km2 = PP(prf, skD, Buffer.concat([gir, ni, nr]), 40);
    assert.deepEqual(Buffer.concat([pfs.encrI, pfs.encrR]), km2);
    // With integrity keys the order is encr_i, integ_i, encr_r, integ_r.
    const cbc = deriveChildSaKeys({ prf, skD, ni, nr, encrKeyBytes: 32, integKeyBytes: 32 });
    const [ei, ai, er, ar] = take(PP(prf, skD, Buffer.concat([ni, nr]), 128), [32, 32, 32, 32]);
    assert.deepEqual(cbc, { encrI: ei, integI: ai, encrR: er, integR: ar });
  }
});

test('bad key lengths are typed errors', () => {
  const prf = SUPPORTED_PRFS[0]!;
  const base = { prf, sharedSecret: Buffer.alloc(32, 1), ni: Buffer.alloc(32), nr: Buffer.alloc(32), spiI: Buffer.alloc(8, 1), spiR: Buffer.alloc(8, 2) };
  for (const encrKeyBytes of [0, -1, 1.5, 5000, Number.NaN]) {
    assert.throws(() => deriveIkeSaKeys({ ...base, encrKeyBytes }), KeyDerivationError);
  }
  assert.throws(() => deriveIkeSaKeys({ ...base, encrKeyBytes: 36, integKeyBytes: -3 }), KeyDerivationError);
  assert.throws(() => deriveChildSaKeys({ prf, skD: Buffer.alloc(32), ni: base.ni, nr: base.nr, encrKeyBytes: 0 }), KeyDerivationError);
});

// ---------------------------------------------------------------- AUTH (RFC 7296 2.15)

test('PSK AUTH = prf(prf(secret, "Key Pad for IKEv2"), RealMessage | Nonce | prf(SK_p, IDType | 3 reserved | ID data))', () => {
  const rnd = prng(2015);
  for (const prf of SUPPORTED_PRFS) {
    const [message, nonceR, skPi] = [rnd(300), rnd(32), rnd(prf.preferredKeyBytes)];
    const psk = Buffer.from('branch-042 shared secret', 'utf8');
    const id = Buffer.from('branch-042.example.net', 'ascii');
    const body = idPayloadBody(IdType.FQDN, id);
    assert.deepEqual(body, Buffer.concat([Buffer.from([IdType.FQDN, 0, 0, 0]), id]));
    const octets = signedOctets(prf, message, nonceR, skPi, body);
    assert.deepEqual(octets, Buffer.concat([message, nonceR, P(prf, skPi, Buffer.from([2, 0, 0, 0]), id)]));
    const auth = pskAuth(prf, psk, octets);
    const expected = P(prf, P(prf, psk, Buffer.from('Key Pad for IKEv2', 'ascii')), octets);
    assert.deepEqual(auth, expected);
    assert.equal(auth.length, prf.outputBytes);
    assert.equal(verifyPskAuth(prf, psk, octets, expected), true);
    const wrong = Buffer.from(expected);
    wrong[wrong.length - 1]! ^= 1;
    assert.equal(verifyPskAuth(prf, psk, octets, wrong), false);
    assert.equal(verifyPskAuth(prf, psk, octets, expected.subarray(0, 16)), false);
    assert.equal(verifyPskAuth(prf, Buffer.from('other secret'), octets, expected), false);
    assert.equal(verifyPskAuth(prf, psk, octets, Buffer.alloc(0)), false);
  }
  assert.throws(() => signedOctets(SUPPORTED_PRFS[0]!, Buffer.alloc(10), Buffer.alloc(16), Buffer.alloc(32), Buffer.alloc(3)), KeyDerivationError);
  assert.throws(() => idPayloadBody(256, Buffer.alloc(1)), KeyDerivationError);
});
