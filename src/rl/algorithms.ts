/** The builder: one algorithm from its name and validated config (d3rlpy's config → builder). */
import type { Algorithm } from './algorithm.ts';
import { Bc } from './baselines/bc.ts';
import { Iql } from './baselines/iql.ts';
import { Td3 } from './baselines/td3.ts';
import { Bcq } from './bcq.ts';
import { Tscac } from './tscac.ts';
import type { AlgoConfig, AlgoName, BcConfig, BcqConfig, IqlConfig, Td3BcConfig, Td3Config, TscacConfig } from './config.ts';
import type { Rng } from './rng.ts';

export function createAlgorithm(name: AlgoName, stateDim: number, actionDim: number, cfg: AlgoConfig, rng: Rng): Algorithm {
  switch (name) {
    case 'bcq':
      return new Bcq(stateDim, actionDim, cfg as BcqConfig, rng);
    case 'bc':
      return new Bc(stateDim, actionDim, cfg as BcConfig, rng);
    case 'td3':
      return new Td3(stateDim, actionDim, cfg as Td3Config, rng, null);
    case 'td3bc':
      return new Td3(stateDim, actionDim, cfg as Td3BcConfig, rng, (cfg as Td3BcConfig).alpha);
    case 'tscac':
      return new Tscac(stateDim, actionDim, cfg as TscacConfig, rng);
    case 'iql':
      return new Iql(stateDim, actionDim, cfg as IqlConfig, rng);
  }
}
